"""FOCUS bills from an Azure Storage container laid out as a Cost Management export writes
them (part files and manifest.json per run), served by Azurite on loopback; and `mlcost watch`
keeping an S3 and an Azure source current, with their freshness and a stale-source alert."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

from mlcost.cli.main import cli, main
from tests.conftest import FOCUS_SAMPLES
from tests.sources.conftest import CONTAINER
from tests.sources.remoteservers import AZURITE_KEY, SECRET
from tests.sources.test_remote_s3 import deliver, file_sum, peak_memory, sample

AZ_URL = f"az://{CONTAINER}/focus/"
RUN = "bbac73f1-9a05-4de6-84ab-c72b568a03b4"
AZURE_SAMPLE = FOCUS_SAMPLES / "synthetic-1.2-1.3" / "azure_1_2_cost_and_usage_rows100_seed42.csv"


def export_run(c: Any, submitted: datetime) -> bytes:
    """One run of a FOCUS cost export: the gzipped part file, then its manifest.json."""
    body = gzip.compress(AZURE_SAMPLE.read_bytes())
    folder = f"focus/azure-focus/20260501-20260531/{RUN}"
    c.upload_blob(f"{folder}/part_0_0001.csv.gz", body, overwrite=True)
    manifest = {
        "manifestVersion": "2024-04-01",
        "byteCount": len(body),
        "blobCount": 1,
        "dataRowCount": pacsv.read_csv(AZURE_SAMPLE).num_rows,
        "exportConfig": {
            "exportName": "azure-focus",
            "dataVersion": "1.2-preview",
            "type": "FocusCost",
            "timeFrame": "MonthToDate",
        },
        "deliveryConfig": {
            "partitionData": True,
            "dataOverwriteBehavior": "CreateNewReport",
            "fileFormat": "Csv",
            "compressionMode": "gzip",
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": submitted.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "runId": RUN,
            "startDate": "2026-05-01T00:00:00",
            "endDate": "2026-05-31T00:00:00",
        },
        "blobs": [
            {
                "blobName": f"{folder}/part_0_0001.csv.gz",
                "byteCount": len(body),
                "dataRowCount": 100,
            }
        ],
    }
    c.upload_blob(f"{folder}/manifest.json", json.dumps(manifest).encode(), overwrite=True)
    return body


def azure_file_sum() -> Any:
    import io

    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pacsv.read_csv(AZURE_SAMPLE), buf)
    return file_sum([buf.getvalue()])


def totals(path: Path) -> dict[str, tuple[int, Any]]:
    from decimal import Decimal

    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT ServiceProviderName, count(*), sum(EffectiveCost) FROM cost_line_items GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    return {str(p): (int(n), round(Decimal(str(s)), 9)) for p, n, s in rows}


def test_an_azure_export_loads_once(container: Any, tmp_path: Path) -> None:
    export_run(container, datetime(2026, 6, 1, 6, 12, tzinfo=UTC))
    wh = tmp_path / "w.duckdb"
    r = CliRunner().invoke(cli, ["--warehouse", str(wh), "ingest", "focus", AZ_URL])
    assert r.exit_code == 0, r.output
    assert f"{AZ_URL}: ingest 1: 100 rows from 1 file(s) (FOCUS 1.2)" in r.output
    assert list(totals(wh).values()) == [(100, azure_file_sum())]
    r = CliRunner().invoke(cli, ["--warehouse", str(wh), "ingest", "focus", AZ_URL])
    assert "nothing new to load" in r.output and "1 delivery(ies) unchanged" in r.output


def test_an_unpartitioned_export_loads_its_newest_run(container: Any, tmp_path: Path) -> None:
    # Without partitioning, each run writes one file into the period's date-range folder.
    folder = "focus/legacy-focus/20260501-20260531"
    full = AZURE_SAMPLE.read_bytes()
    lines = full.splitlines(keepends=True)
    container.upload_blob(f"{folder}/legacy-focus_6f1c.csv", b"".join(lines[:41]))
    wh = tmp_path / "w.duckdb"
    r = CliRunner().invoke(cli, ["--warehouse", str(wh), "ingest", "focus", AZ_URL])
    assert r.exit_code == 0 and "ingest 1: 40 rows" in r.output, r.output
    container.upload_blob(f"{folder}/legacy-focus_a93e.csv", full)  # the next day's run
    r = CliRunner().invoke(cli, ["--warehouse", str(wh), "ingest", "focus", AZ_URL])
    assert r.exit_code == 0, r.output
    assert "ingest 2: 100 rows" in r.output and "replaced 40 older rows" in r.output
    assert list(totals(wh).values()) == [(100, azure_file_sum())]


def test_a_wrong_account_key_names_azure_and_the_fix(
    container: Any,
    azurite: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "V3Jvbmcta2V5LW5vdC10aGUtYWNjb3VudHMtb3duLWtleS1hdC1hbGwtMDEyMzQ1Njc4OQ=="
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.replace(AZURITE_KEY, wrong))
    assert main(["--warehouse", str(tmp_path / "w.duckdb"), "ingest", "focus", AZ_URL]) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Azure Storage listing az://exports/focus/: the storage account refused" in text
    assert "AZURE_STORAGE_CONNECTION_STRING" in text
    assert wrong not in text and AZURITE_KEY not in text


def test_watch_keeps_both_current_and_alerts_once_on_a_stale_source(
    container: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_bodies = deliver(s3, "2026-05", "exec-1", [sample()])
    # The Azure export last ran three days ago: stale after two.
    submitted = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    export_run(container, submitted)
    (tmp_path / "mlcost.toml").write_text(
        f"""
warehouse = "warehouse.duckdb"

[notify.channels.ops]
kind = "file"
path = "alerts.jsonl"

[watch.sources.aws]
kind = "focus"
paths = ["s3://billing/exports/"]
stale_after = "30d"
channels = ["ops"]

[watch.sources.azure]
kind = "focus"
paths = ["{AZ_URL}"]
stale_after = "2d"
channels = ["ops"]
"""
    )
    monkeypatch.chdir(tmp_path)
    outputs = []
    for _ in range(2):
        r = CliRunner().invoke(cli, ["watch", "--once"])
        assert r.exit_code == 0, r.output
        outputs.append(r.output)
    first, second = outputs
    assert "aws: 1 new load(s)" in first and "azure: 1 new load(s)" in first
    assert "freshness: AWS bill 'aws' delivered" in first
    assert (
        f"freshness: Azure bill 'azure' delivered {submitted:%Y-%m-%d %H:%M} UTC, "
        "covers through 2026-05-31" in first
    )
    assert "stale source: Azure bill 'azure'" in first
    assert "stale source" not in second  # once, not every round
    assert "new load" not in second
    got = totals(tmp_path / "warehouse.duckdb")
    aws_name = sample()["ProviderName"][0].as_py()  # FOCUS 1.2's ProviderName
    azure_name = pacsv.read_csv(AZURE_SAMPLE)["ProviderName"][0].as_py()
    assert got == {aws_name: (100, file_sum(aws_bodies)), azure_name: (100, azure_file_sum())}
    r = CliRunner().invoke(cli, ["sources", "--fresh", "--format", "json"])
    assert r.exit_code == 0, r.output
    fresh = {f["url"]: f for f in json.loads(r.output)}
    assert sorted(fresh) == [AZ_URL, "s3://billing/exports/"]
    assert fresh[AZ_URL]["delivered_at"] == submitted.replace(tzinfo=None).isoformat()
    assert {f["covers_through"] for f in fresh.values()} == {"2026-05-31"}
    outputs.append(r.output)
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [a["subject"] for a in alerts] == ["azure"] and alerts[0]["kind"] == "stale"
    # No credential anywhere: output, alerts, the warehouse's stored rows and errors.
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        stored = " ".join(
            str(row)
            for table in ("ingests", "remote_deliveries", "alerts", "alert_deliveries")
            for row in con.execute(f"SELECT * FROM {table}").fetchall()
        )
    finally:
        con.close()
    everything = "\n".join([*outputs, (tmp_path / "alerts.jsonl").read_text(), stored])
    for secret in (SECRET, AZURITE_KEY):
        assert secret not in everything


def test_large_blobs_stream_in_bounded_chunks(container: Any, tmp_path: Path) -> None:
    import os

    from mlcost.sources.remote import parse_url
    from mlcost.sources.remote._stores import AZURE_CHUNK, open_store

    store = open_store(parse_url(f"az://{CONTAINER}/big/"))
    peaks = {}
    for chunks in (2, 5):
        size = chunks * AZURE_CHUNK + 12345
        container.upload_blob(f"big/{chunks}.csv.gz", os.urandom(size))
        steps: list[int] = []
        dest = tmp_path / f"{chunks}.csv.gz"
        peaks[chunks] = peak_memory(
            lambda c=chunks, d=dest, st=steps: store.download(f"big/{c}.csv.gz", d, st.append)
        )
        assert dest.stat().st_size == size == sum(steps)
        assert len(steps) > chunks and max(steps) <= AZURE_CHUNK  # progress chunk by chunk
    # Memory follows the chunk, not the blob: 2.5 times the bytes, about the same peak.
    assert peaks[5] < 1.3 * peaks[2]
