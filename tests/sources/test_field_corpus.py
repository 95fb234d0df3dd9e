"""The field corpus (tests/data/field/, see its README.md): each shape as tools write it.

Each shape loads, or is refused naming file, row and column; lines that are skipped are
counted per reason, in the result and in what ``mlcost ingest`` prints.
"""

from __future__ import annotations

import csv
import gzip
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcost import Warehouse, open_warehouse
from mlcost.cli.main import cli as main
from mlcost.errors import BadValue
from mlcost.sources import detect_source, ingest_auto
from mlcost.sources.focus import ingest_focus
from mlcost.sources.nvidia_smi import PARTIAL_LINE, REPEATED_HEADER, ingest_nvidia_smi
from mlcost.sources.prometheus import ingest_prometheus

FIELD = Path(__file__).resolve().parents[1] / "data" / "field"
FOCUS_CSV = FIELD / "focus" / "aws-focus-1.3.csv"


def _samples(wh: Warehouse) -> list[dict[str, object]]:
    t = wh.table("gpu_samples")
    order = [t.resource_id, t.gpu_index, t.time]
    return t.order_by(order).to_pyarrow().to_pylist()


def _data_lines(path: Path) -> list[list[str]]:
    """The log's lines that are samples: not headers, as a reader by hand would count."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [
            [c.strip() for c in line.split(",")]
            for line in fh
            if line.strip() and not line.startswith("timestamp")
        ]


def test_every_file_is_claimed_by_its_source() -> None:
    expected = {"focus": "focus", "nvidia-smi": "nvidia-smi", "dmon": "nvidia-smi"}
    expected["dcgm"] = "prometheus"
    files = [p for p in FIELD.rglob("*") if p.is_file() and p.suffix not in (".md", ".py")]
    assert len(files) >= 14
    for path in files:
        folder = path.relative_to(FIELD).parts[0]
        assert detect_source(path) == expected[folder], path


def test_appended_log_skips_repeated_header_and_cut_line(wh: Warehouse) -> None:
    log = FIELD / "nvidia-smi" / "appended" / "gpu-a.csv"
    result = ingest_nvidia_smi(wh, log)
    lines = _data_lines(log)
    whole = [cells for cells in lines if len(cells) == 8]
    assert (
        result.skipped
        == {REPEATED_HEADER: 1, PARTIAL_LINE: len(lines) - len(whole)}
        == {
            REPEATED_HEADER: 1,
            PARTIAL_LINE: 1,
        }
    )
    rows = _samples(wh)
    assert sum(r["sample_count"] for r in rows) == len(whole)  # type: ignore[misc]
    # Both GPUs on both sides of the restart; the cut line (GPU 1 at 08:01) is not guessed at.
    assert {(r["gpu_index"], r["time"].minute) for r in rows} == {  # type: ignore[attr-defined]
        (0, 0), (0, 1), (0, 5), (0, 6), (1, 0), (1, 5), (1, 6),
    }  # fmt: skip
    assert "skipped 1 repeated header line(s)" in " ".join(result.warnings)


def test_rotated_and_gzipped_logs_are_one_host(wh: Warehouse) -> None:
    folder = FIELD / "nvidia-smi" / "rotated"
    result = ingest_nvidia_smi(wh, folder)
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["gpu-b.csv", "gpu-b.csv.1", "gpu-b.csv.2.gz"]
    expected = sum(len(_data_lines(folder / f)) for f in files)
    rows = _samples(wh)
    assert result.tables == {"gpu_samples": expected} == {"gpu_samples": 6}
    assert {r["resource_id"] for r in rows} == {"gpu-b"}
    # The .2.gz generation is the oldest: 08:00 is its first sample, 12 %.
    assert rows[0]["utilization"] == pytest.approx(0.12)


def test_mig_gpu_with_na_utilization_is_loaded_not_dropped(wh: Warehouse) -> None:
    log = FIELD / "nvidia-smi" / "mig" / "gpu-c.csv"
    result = ingest_nvidia_smi(wh, log)
    lines = _data_lines(log)
    na = [c for c in lines if c[4] == "[N/A]"]
    rows = _samples(wh)
    # Four GPUs at each sample time, every one of them kept.
    assert {r["gpu_index"] for r in rows} == {int(c[1]) for c in lines} == {0, 1, 2, 3}
    mig = [r for r in rows if r["gpu_index"] == 0]
    assert [r["utilization"] for r in mig] == [None, None]
    assert mig[0]["memory_used_bytes"] == 40448 * 2**20
    assert [r["power_watts"] for r in rows if r["gpu_index"] == 3] == [None, None]
    assert result.skipped == {}
    assert f"{len(na)} sample(s) have no utilization.gpu" in result.warnings[0]


def test_partial_last_line_of_a_log_being_written(wh: Warehouse) -> None:
    log = FIELD / "nvidia-smi" / "tail" / "gpu-d.csv"
    assert not log.read_bytes().endswith(b"\n")
    result = ingest_nvidia_smi(wh, log)
    assert result.skipped == {PARTIAL_LINE: 1}
    assert result.tables == {"gpu_samples": len(_data_lines(log)) - 1}


def test_dmon_with_date_and_time_loads_and_without_is_counted(wh: Warehouse) -> None:
    folder = FIELD / "dmon"
    result = ingest_nvidia_smi(wh, folder)
    with (folder / "gpu-e.dmon").open() as fh:
        samples = [line.split() for line in fh if line.strip() and not line.startswith("#")]
    with (folder / "gpu-g.log").open() as fh:
        timeless = [line for line in fh if line.strip() and not line.startswith("#")]
    rows = _samples(wh)
    assert {r["resource_id"] for r in rows} == {"gpu-e"}
    assert len(rows) == len(samples)
    by_key = {(r["gpu_index"], r["time"].minute): r for r in rows}  # type: ignore[attr-defined]
    for date, time, gpu, pwr, *_, sm, _mem, _e, _d, _j, _o, fb, _b, _c in (
        (*s[:4], s[4], s[5], *s[6:]) for s in samples
    ):
        row = by_key[(int(gpu), int(time[3:5]))]
        assert row["utilization"] == (None if sm == "-" else pytest.approx(float(sm) / 100))
        assert row["memory_used_bytes"] == int(fb) * 2**20
        assert row["power_watts"] == pytest.approx(float(pwr))
        assert date == "20261102"
    assert list(result.skipped.values()) == [len(timeless)]
    assert "without -o DT" in next(iter(result.skipped))


def test_dcgm_hostname_only_labels_and_mig_instances(wh: Warehouse) -> None:
    result = ingest_prometheus(wh, FIELD / "dcgm")
    rows = _samples(wh)
    assert {r["resource_id"] for r in rows} == {"gpu-f"}
    instances = {
        (r["gpu_index"], dict(r["labels"] or {}).get("GPU_I_ID"))  # type: ignore[call-overload]
        for r in rows
    }
    # GPU 0 whole; GPU 1 split into two MIG instances, each its own series.
    assert instances == {(0, None), (1, "1"), (1, "2")}
    busy = [r["utilization"] for r in rows if dict(r["labels"] or {}).get("GPU_I_ID") == "1"]  # type: ignore[call-overload]
    assert busy == [pytest.approx(0.712), pytest.approx(0.698)]
    assert result.tables == {"gpu_samples": 6}


def test_aws_focus_keeps_x_columns_and_focus_1_3_allocation(wh: Warehouse) -> None:
    result = ingest_focus(wh, FOCUS_CSV)
    with FOCUS_CSV.open(newline="") as fh:
        raw = list(csv.DictReader(fh))
    assert result.focus_versions == ("1.3",)
    t = wh.table("cost_line_items")
    got = (
        t.select(
            "x_ServiceCode",
            "x_UsageType",
            "x_Operation",
            "AllocatedMethodId",
            "AllocatedResourceId",
        )
        .to_pyarrow()
        .to_pylist()
    )
    assert sorted(r["x_UsageType"] for r in got) == sorted(r["x_UsageType"] for r in raw)
    assert {r["x_Operation"] for r in got} == {r["x_Operation"] for r in raw}
    allocated = [r for r in raw if r["AllocatedMethodId"]]
    assert len(allocated) == 4
    assert sorted(r["AllocatedResourceId"] for r in got if r["AllocatedMethodId"]) == sorted(
        r["AllocatedResourceId"] for r in allocated
    )
    # Amounts are kept to 12 decimal places (DECIMAL(38, 12)); the file has 14.
    expected = sum(Decimal(r["EffectiveCost"]).quantize(Decimal("1e-12")) for r in raw)
    assert result.effective_cost == {"USD": expected}


def test_parquet_empty_strings_are_null_like_csv(wh: Warehouse, tmp_path: Path) -> None:
    parquet = FIELD / "focus" / "aws-focus-1.3-empty-strings.parquet"
    import pyarrow.parquet as pq

    table = pq.read_table(parquet).to_pylist()
    empty = [i for i, r in enumerate(table) if r["Tags"] == "" and r["SkuPriceDetails"] == ""]
    assert empty == [1, 2]
    result = ingest_focus(wh, parquet)
    assert result.rows == len(table)
    t = wh.table("cost_line_items")
    rows = t.select("Tags", "SkuPriceDetails", "ListUnitPrice").to_pyarrow().to_pylist()
    assert sum(r["Tags"] is None for r in rows) == len(empty)
    assert sum(r["SkuPriceDetails"] is None for r in rows) == len(empty)
    # The same data as CSV (empty fields there) gives the same rows and EffectiveCost.
    with open_warehouse(f"duckdb://{tmp_path / 'csv.duckdb'}") as other:
        from_csv = ingest_focus(other, FOCUS_CSV)
        t2 = other.table("cost_line_items")
        csv_rows = t2.select("Tags", "SkuPriceDetails", "ListUnitPrice").to_pyarrow().to_pylist()
    assert result.effective_cost == from_csv.effective_cost
    assert [r["ListUnitPrice"] for r in rows] == [r["ListUnitPrice"] for r in csv_rows]


def test_bad_json_in_parquet_names_file_row_and_column(wh: Warehouse) -> None:
    parquet = FIELD / "focus" / "aws-focus-1.3-bad-tags.parquet"
    with pytest.raises(BadValue) as err:
        ingest_focus(wh, parquet)
    assert (Path(err.value.file or "").name, err.value.row, err.value.column) == (
        parquet.name,
        3,
        "Tags",
    )
    assert wh.table("cost_line_items").count().execute() == 0


def test_the_same_export_twice_in_a_folder_is_counted_once(wh_url: str) -> None:
    folder = FIELD / "focus" / "copies"
    with FOCUS_CSV.open(newline="") as fh:
        n = sum(1 for _ in csv.DictReader(fh))
    out = CliRunner().invoke(main, ["--warehouse", wh_url, "ingest", "focus", str(folder)])
    assert out.exit_code == 0, out.output
    assert f"Ingest 1: {n} rows from 1 file(s)" in out.stdout
    warnings = [line for line in out.stderr.splitlines() if "holds the same content" in line]
    # Three files, one export: the byte copy and the gzipped original are both left out.
    assert len(warnings) == 2 and all(w.endswith("loaded once") for w in warnings)
    assert any("aws-focus-1.3.csv.gz holds the same content as" in w for w in warnings)


def test_cli_prints_what_it_skipped(wh_url: str, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(FIELD / "nvidia-smi", logs)
    out = CliRunner().invoke(main, ["--warehouse", wh_url, "ingest", "nvidia-smi", str(logs)])
    assert out.exit_code == 0, out.output
    assert "skipped 1 repeated header line(s)" in out.stderr
    assert "skipped 2 partial line(s)" in out.stderr  # the appended log's and the tail's
    assert "have no utilization.gpu" in out.stderr
    with open_warehouse(wh_url) as wh:
        n = wh.table("gpu_samples").count().execute()
    assert f"nvidia-smi: ingest 1: {n} gpu_samples from 6 input(s)." in out.stdout


def test_auto_ingest_of_the_whole_corpus_refuses_the_bad_file_and_writes_nothing(
    wh: Warehouse,
) -> None:
    with pytest.raises(BadValue):
        ingest_auto(wh, [FIELD / d for d in ("focus", "nvidia-smi", "dmon", "dcgm")])
    # Bills come first and fail as one load; nothing of that load is kept.
    assert wh.table("cost_line_items").count().execute() == 0


def test_bad_number_in_parquet_names_file_row_and_column(wh: Warehouse, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pq.read_table(FIELD / "focus" / "aws-focus-1.3-empty-strings.parquet").to_pylist()
    rows[4]["BilledCost"] = "12,50"  # a decimal comma: data row 5
    bad = tmp_path / "comma.parquet"
    pq.write_table(pa.Table.from_pylist(rows), bad)
    with pytest.raises(BadValue) as err:
        ingest_focus(wh, bad)
    assert (err.value.row, err.value.column) == (5, "BilledCost")
    assert "'12,50' is not a valid number" in str(err.value)


def test_dcgm_mig_instances_from_a_real_prometheus_match_the_file(
    wh: Warehouse, tmp_path: Path
) -> None:
    """The corpus file backfilled into Prometheus: query_range gives the file's rows."""
    from datetime import datetime

    from tests.sources.promserver import running_prometheus

    text = (FIELD / "dcgm" / "gpu-f.om.txt").read_text()
    from_file = ingest_prometheus(wh, FIELD / "dcgm")
    file_rows = _samples(wh)
    with (
        running_prometheus(text, tmp_path) as url,
        open_warehouse(f"duckdb://{tmp_path / 'q.duckdb'}") as other,
    ):
        start, end = datetime(2026, 11, 2, 9, 0), datetime(2026, 11, 2, 9, 2)
        queried = ingest_prometheus(other, url=url, start=start, end=end, resolution=60)
        query_rows = _samples(other)

    def key(r: dict[str, object]) -> tuple[object, ...]:
        labels = dict(r["labels"] or {})  # type: ignore[call-overload]
        return r["time"], r["gpu_index"], labels.get("GPU_I_ID"), r["utilization"]

    assert queried.tables == from_file.tables
    assert sorted(map(key, query_rows), key=str) == sorted(map(key, file_rows), key=str)


def test_an_aws_export_folder_with_its_manifest_loads_with_auto(
    wh: Warehouse, tmp_path: Path
) -> None:
    # AWS Data Exports: data/BILLING_PERIOD=…/<export>-00001.csv.gz, metadata/…-Manifest.json.
    data = tmp_path / "focus-export" / "data" / "BILLING_PERIOD=2025-01"
    meta = tmp_path / "focus-export" / "metadata" / "BILLING_PERIOD=2025-01"
    data.mkdir(parents=True)
    meta.mkdir(parents=True)
    (data / "focus-export-00001.csv.gz").write_bytes(gzip.compress(FOCUS_CSV.read_bytes()))
    (meta / "focus-export-Manifest.json").write_text('{"dataFiles": []}')
    (result,) = ingest_auto(wh, [tmp_path / "focus-export"])
    assert (result.source, result.inputs) == ("focus", (str(data / "focus-export-00001.csv.gz"),))
