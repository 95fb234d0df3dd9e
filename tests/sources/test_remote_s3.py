"""FOCUS 1.2 bills from an S3 bucket laid out as AWS Data Exports delivers them, served by a
moto server on loopback (boto3 talks HTTP to it; its request log counts the downloads)."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from mlcost.cli.main import cli, main
from tests.conftest import FOCUS_SAMPLES
from tests.sources.conftest import BUCKET
from tests.sources.remoteservers import SECRET, Moto

EXPORT = "focus-export"
ROOT = f"exports/{EXPORT}"
URL = f"s3://{BUCKET}/exports/"
SAMPLE = FOCUS_SAMPLES / "synthetic-1.2-1.3" / "aws_1_2_cost_and_usage_rows100_seed42.csv"


def sample() -> pa.Table:
    """The FOCUS 1.2 sample as AWS Data Exports writes it: Parquet, one billing period."""
    return pacsv.read_csv(SAMPLE)


def parquet(t: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(t, out, compression="snappy")
    return out.getvalue()


def deliver(
    s3: Any,
    period: str,
    execution: str,
    chunks: list[pa.Table | None],
    *,
    create_new: bool = False,
) -> list[bytes]:
    """One refresh: the data files, then the period's manifest listing them. Overwrite mode
    rewrites the period's folder; create-new mode writes a folder per execution. A None chunk
    is listed but never written (a delivery cut short)."""
    folder = f"BILLING_PERIOD={period}/" + (f"{execution}/" if create_new else "")
    keys, bodies = [], []
    for i, chunk in enumerate(chunks, start=1):
        key = f"{ROOT}/data/{folder}{EXPORT}-{i:05d}.snappy.parquet"
        keys.append(key)
        if chunk is not None:
            bodies.append(parquet(chunk))
            s3.put_object(Bucket=BUCKET, Key=key, Body=bodies[-1])
    manifest = {
        "executionId": execution,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:123456789012:export/{EXPORT}-0001",
        "exportName": EXPORT,
        "billingPeriod": period,
        "dataFiles": [f"s3://{BUCKET}/{k}" for k in keys],
        "columns": [{"name": n, "type": "string"} for n in chunks[0].column_names]
        if chunks[0] is not None
        else [],
    }
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{ROOT}/metadata/{folder}{EXPORT}-Manifest.json",
        Body=json.dumps(manifest).encode(),
    )
    return bodies


def file_sum(bodies: list[bytes]) -> Decimal:
    """EffectiveCost summed over the delivered files themselves."""
    total = Decimal(0)
    for body in bodies:
        t = pq.read_table(io.BytesIO(body))
        total += sum(
            (Decimal(str(v)) for v in t["EffectiveCost"].to_pylist() if v is not None), Decimal(0)
        )
    return round(total, 9)  # the warehouse keeps decimals; the files hold doubles


def warehouse_sum(path: Path) -> tuple[int, Decimal]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        n, total = con.execute(
            "SELECT count(*), sum(EffectiveCost) FROM cost_line_items"
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    return int(n), round(Decimal(str(total)), 9)


def mlcost(wh: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--warehouse", str(wh), *args])


def failing(wh: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the mlcost command as a user does (errors become a message and exit status 2);
    return everything it printed."""
    assert main(["--warehouse", str(wh), *args]) == 2
    out = capsys.readouterr()
    return out.out + out.err


def test_overwrite_deliveries_load_restate_and_skip(s3: Any, moto: Moto, tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    t = sample()
    # First refresh of 2026-05: month to date (charges before the 16th).
    mid = pa.scalar(datetime(2026, 5, 16, tzinfo=UTC), t["ChargePeriodStart"].type)
    early = t.filter(pc.less(t["ChargePeriodStart"], mid))
    first = deliver(s3, "2026-05", "exec-1", [early])
    r = mlcost(wh, "ingest", "focus", URL)
    assert r.exit_code == 0, r.output
    assert f"{URL}: ingest 1: {early.num_rows:,} rows" in r.output
    assert warehouse_sum(wh) == (early.num_rows, file_sum(first))

    # The restated month, rewritten in place in two chunks with a new manifest.
    second = deliver(s3, "2026-05", "exec-2", [t.slice(0, 60), t.slice(60)])
    r = mlcost(wh, "ingest", "focus", URL)
    assert r.exit_code == 0, r.output
    assert f"replaced {early.num_rows:,} older rows" in r.output
    assert warehouse_sum(wh) == (t.num_rows, file_sum(second))
    assert file_sum(second) != file_sum(first)

    # A rerun lists the bucket and downloads nothing.
    gets = len(moto.object_gets(BUCKET))
    r = mlcost(wh, "ingest", "focus", URL)
    assert r.exit_code == 0, r.output
    assert "nothing new to load" in r.output and "1 delivery(ies) unchanged" in r.output
    assert moto.object_gets(BUCKET)[gets:] == []
    assert warehouse_sum(wh) == (t.num_rows, file_sum(second))
    assert SECRET not in r.output


def test_a_delivery_missing_a_file_is_not_loaded_and_is_reported(
    s3: Any, moto: Moto, tmp_path: Path
) -> None:
    wh = tmp_path / "w.duckdb"
    t = sample()
    # Create-new mode: a complete execution, then a newer one whose second chunk is not there.
    first = deliver(s3, "2026-05", "exec-1", [t.slice(0, 40)], create_new=True)
    newer = deliver(s3, "2026-05", "exec-2", [t.slice(0, 60), None], create_new=True)
    r = mlcost(wh, "ingest", "focus", URL)
    assert r.exit_code == 0, r.output
    missing = f"{ROOT}/data/BILLING_PERIOD=2026-05/exec-2/{EXPORT}-00002.snappy.parquet"
    assert "delivery exec-2 of 2026-05 lists 1 file(s) not in the store" in r.output
    assert f"s3://{BUCKET}/{missing}" in r.output
    assert warehouse_sum(wh) == (40, file_sum(first))  # the complete one only
    # Still reported on the next run, without reading its manifest again.
    gets = len(moto.object_gets(BUCKET))
    r = mlcost(wh, "ingest", "focus", URL)
    assert "delivery exec-2 of 2026-05" in r.output
    assert moto.object_gets(BUCKET)[gets:] == []
    # The export finishes writing: the next run loads it, restating the first.
    newer.append(parquet(t.slice(60)))
    s3.put_object(Bucket=BUCKET, Key=missing, Body=newer[-1])
    r = mlcost(wh, "ingest", "focus", URL)
    assert r.exit_code == 0 and "Warning" not in r.output, r.output
    assert "replaced 40 older rows" in r.output
    assert warehouse_sum(wh) == (t.num_rows, file_sum(newer))


def test_a_bad_file_in_a_delivery_names_the_object(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cur = FOCUS_SAMPLES / "native-exports" / "aws_cur_sample-anonymous-aws-export-dataset.csv"
    key = f"{ROOT}/data/BILLING_PERIOD=2026-05/{EXPORT}-00001.csv.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(cur.read_bytes()))
    manifest = {"executionId": "exec-1", "dataFiles": [f"s3://{BUCKET}/{key}"]}
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{ROOT}/metadata/BILLING_PERIOD=2026-05/{EXPORT}-Manifest.json",
        Body=json.dumps(manifest).encode(),
    )
    out = failing(tmp_path / "w.duckdb", capsys, "ingest", "focus", URL)
    assert f"Error: s3://{BUCKET}/{key}: " in out  # the object, not a temporary copy
    assert "mlcost-remote-" not in out
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM remote_deliveries").fetchone() == (0,)


def test_create_new_mode_loads_only_the_newest_execution(s3: Any, tmp_path: Path) -> None:
    # Create-new mode: a folder per execution, both present when mlcost first looks.
    t = sample()
    deliver(s3, "2026-05", "20260510T0612", [t.slice(0, 40)], create_new=True)
    newest = deliver(s3, "2026-05", "20260602T0603", [t], create_new=True)
    wh = tmp_path / "w.duckdb"
    r = mlcost(wh, "ingest", "focus", URL)
    assert r.exit_code == 0, r.output
    assert "1 older delivery(ies) superseded" in r.output
    assert warehouse_sum(wh) == (t.num_rows, file_sum(newest))


def test_an_interrupted_fetch_leaves_the_warehouse_as_it_was(s3: Any, wh: Any) -> None:
    from mlcost.sources.remote import ingest_remote

    t = sample()
    deliver(s3, "2026-05", "exec-1", [t.slice(0, 50), t.slice(50)])

    def cut(fraction: float, name: str) -> None:
        if name.endswith("00002.snappy.parquet"):
            raise KeyboardInterrupt  # the user's Ctrl-C half-way through the downloads

    with pytest.raises(KeyboardInterrupt):
        ingest_remote(wh, URL, "focus", progress=cut)
    assert wh.table("cost_line_items").count().execute() == 0
    assert wh.table("ingests").count().execute() == 0
    assert wh.table("remote_deliveries").count().execute() == 0
    shown: list[float] = []
    result = ingest_remote(wh, URL, "focus", progress=lambda f, _: shown.append(f))
    assert [r.rows for r in result.loads] == [t.num_rows]  # the next run loads it whole
    assert shown == sorted(shown) and shown[-1] == 1.0  # progress by bytes, to the end


def test_missing_credentials_name_the_provider_and_the_fix(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    out = failing(tmp_path / "w.duckdb", capsys, "ingest", "focus", URL)
    assert "Error: S3 listing s3://billing/exports/: no AWS credentials found" in out
    assert "AWS_PROFILE" in out


def test_a_bucket_that_does_not_exist(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = failing(tmp_path / "w.duckdb", capsys, "ingest", "focus", "s3://no-such-bucket/x/")
    assert "not found (NoSuchBucket)" in out and "Fix:" in out
    assert SECRET not in out


def test_native_cur_from_a_folder_without_manifest(s3: Any, moto: Moto, tmp_path: Path) -> None:
    # A plain folder of bill files (a copy job's output, OCI's bucket): one delivery of all.
    cur = FOCUS_SAMPLES / "native-exports" / "aws_cur_sample-anonymous-aws-export-dataset.csv"
    s3.put_object(Bucket=BUCKET, Key="cur/2026-05/cur.csv", Body=cur.read_bytes())
    wh = tmp_path / "w.duckdb"
    r = mlcost(wh, "ingest", "aws-cur", f"s3://{BUCKET}/cur/")
    assert r.exit_code == 0, r.output
    with duckdb.connect(str(wh), read_only=True) as con:
        paths = con.execute("SELECT paths FROM ingests").fetchall()
    assert paths == [([f"s3://{BUCKET}/cur/2026-05/cur.csv"],)]  # the object, not a copy
    assert "aws-cur: ingest 1:" in r.output
    gets = len(moto.object_gets(BUCKET))
    r = mlcost(wh, "ingest", "aws-cur", f"s3://{BUCKET}/cur/")
    assert "nothing new to load" in r.output and moto.object_gets(BUCKET)[gets:] == []


def peak_memory(download: Any) -> int:
    """The most Python memory ``download()`` held at once (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        download()
        return int(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def test_large_objects_stream_in_bounded_chunks(s3: Any, tmp_path: Path) -> None:
    import os

    from mlcost.sources.remote import parse_url
    from mlcost.sources.remote._stores import CHUNK, open_store

    store = open_store(parse_url(f"s3://{BUCKET}/big/"))
    peaks = {}
    for chunks in (2, 5):
        size = chunks * CHUNK + 12345
        s3.put_object(Bucket=BUCKET, Key=f"big/{chunks}.parquet", Body=os.urandom(size))
        steps: list[int] = []
        dest = tmp_path / f"{chunks}.parquet"
        peaks[chunks] = peak_memory(
            lambda c=chunks, d=dest, st=steps: store.download(f"big/{c}.parquet", d, st.append)
        )
        assert dest.stat().st_size == size == sum(steps)
        assert len(steps) > chunks and max(steps) <= CHUNK  # progress chunk by chunk
    # Memory follows the chunk, not the object: 2.5 times the bytes, about the same peak.
    assert peaks[5] < 1.3 * peaks[2] and peaks[5] < 5 * CHUNK
