"""nvidia-smi logs, tracker spool and DCGM OpenMetrics → gpu_samples."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.errors import BadValue, InvalidInput, MissingColumn
from mlcost.sources.nvidia_smi import PARTIAL_LINE, REPEATED_HEADER, ingest_nvidia_smi
from mlcost.sources.tracker import ingest_tracker

WITH_UNITS = """timestamp, index, uuid, name, utilization.gpu [%], memory.used [MiB], memory.total [MiB], power.draw [W]
2026/05/01 10:00:05.120, 0, GPU-aaaa, NVIDIA A100-SXM4-80GB, 90 %, 1000 MiB, 81920 MiB, 300.50 W
2026/05/01 10:00:35.120, 0, GPU-aaaa, NVIDIA A100-SXM4-80GB, 70 %, 3000 MiB, 81920 MiB, [N/A]
2026/05/01 10:01:05.120, 0, GPU-aaaa, NVIDIA A100-SXM4-80GB, 10 %, 500 MiB, 81920 MiB, 100.00 W
"""
# --format=csv,nounits: units stay in the header only; MIG / passive boards print [N/A].
NO_UNITS = """timestamp, index, name, utilization.gpu [%], memory.used [MiB], power.draw [W]
2026/05/01 10:00:00.000, 0, Tesla T4, 40, 200, [N/A]
2026/05/01 10:00:00.000, 1, Tesla T4, [N/A], 100, 30.1
"""
# No units anywhere (a hand-written header).
BARE = """timestamp,index,utilization.gpu
2026/05/01 10:00:00.000,0,55
"""


def _samples(wh: Warehouse) -> list[dict[str, object]]:
    t = wh.table("gpu_samples")
    return t.order_by([t.resource_id, t.gpu_index, t.time]).to_pyarrow().to_pylist()


def test_nvidia_smi_units_na_and_downsampling(wh: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "i-0abc.csv").write_text(WITH_UNITS)
    with gzip.open(tmp_path / "gpu-node-2.csv.gz", "wt") as fh:
        fh.write(NO_UNITS)
    (tmp_path / "bare.csv").write_text(BARE)
    result = ingest_nvidia_smi(wh, [tmp_path], resolution=60)
    rows = {(r["resource_id"], r["gpu_index"], r["time"].minute): r for r in _samples(wh)}
    assert result.tables == {"gpu_samples": len(rows)} == {"gpu_samples": 5}
    # Two samples in the 10:00 minute: mean 0.8, min 0.7, max 0.9; power mean skips [N/A].
    a = rows[("i-0abc", 0, 0)]
    assert (a["utilization"], a["utilization_min"], a["utilization_max"]) == pytest.approx(
        (0.8, 0.7, 0.9)
    )
    assert a["sample_count"] == 2
    assert a["power_watts"] == pytest.approx(300.5)
    assert a["memory_used_bytes"] == 2000 * 2**20
    assert a["memory_used_max_bytes"] == 3000 * 2**20
    assert a["gpu_model"] == "A100-80GB"
    assert a["gpu_uuid"] == "GPU-aaaa"
    assert rows[("i-0abc", 0, 1)]["sample_count"] == 1
    t4 = rows[("gpu-node-2", 1, 0)]
    assert t4["utilization"] is None and t4["gpu_model"] == "T4"
    assert t4["power_watts"] == pytest.approx(30.1)
    assert rows[("bare", 0, 0)]["utilization"] == pytest.approx(0.55)


def test_nvidia_smi_loaded_in_batches_of_whole_hosts_gives_the_same_buckets(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A big fleet's logs are aggregated a batch of hosts at a time (the engine's memory); a
    # host's rotated log shares a minute with its current one, so it must stay in its batch.
    for host in ("h1", "h2", "h3"):  # each its own GPU (identical files are loaded once)
        header, *lines = WITH_UNITS.replace("GPU-aaaa", f"GPU-{host}").splitlines()
        (tmp_path / f"{host}.csv").write_text("\n".join([header, lines[0], lines[2]]) + "\n")
        (tmp_path / f"{host}.csv.1").write_text("\n".join([header, lines[1]]) + "\n")
    import mlcost.sources.nvidia_smi as nvidia_smi

    monkeypatch.setattr(nvidia_smi, "BATCH_BYTES", 1)  # every host its own query
    result = ingest_nvidia_smi(wh, [tmp_path], resolution=60)
    rows = _samples(wh)
    assert result.tables == {"gpu_samples": 6} and len(rows) == 6
    for r in rows:  # 10:00 holds both samples, the rotated log's among them: 70 % and 90 %
        if r["time"].minute == 0:
            assert r["sample_count"] == 2 and r["utilization"] == pytest.approx(0.8), r


def test_nvidia_smi_resource_option_and_idempotency(wh: Warehouse, tmp_path: Path) -> None:
    log = tmp_path / "host.csv"
    log.write_text(WITH_UNITS)
    first = ingest_nvidia_smi(wh, log, resource="arn:aws:ec2:us-east-1:1:instance/i-9")
    again = ingest_nvidia_smi(wh, log, resource="arn:aws:ec2:us-east-1:1:instance/i-9")
    assert not first.already_loaded and again.already_loaded
    assert again.ingest_id == first.ingest_id
    assert {r["resource_id"] for r in _samples(wh)} == {"arn:aws:ec2:us-east-1:1:instance/i-9"}
    assert wh.table("gpu_samples").count().execute() == first.tables["gpu_samples"]


def test_nvidia_smi_bad_value_names_file_row_column(wh: Warehouse, tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_text(WITH_UNITS)
    bad = tmp_path / "bad.csv"
    bad.write_text(WITH_UNITS.replace("10 %", "ten %"))
    with pytest.raises(BadValue) as err:
        ingest_nvidia_smi(wh, [tmp_path])
    assert (Path(err.value.file or "").name, err.value.row, err.value.column) == (
        "bad.csv",
        3,
        "utilization.gpu",
    )
    # Nothing half-written: the good file in the same call was not kept either.
    assert wh.table("gpu_samples").count().execute() == 0
    assert wh.table("ingests").count().execute() == 0


def test_nvidia_smi_bad_timestamp_and_missing_column(wh: Warehouse, tmp_path: Path) -> None:
    bad = tmp_path / "h.csv"
    bad.write_text(WITH_UNITS.replace("2026/05/01 10:01:05.120", "yesterday"))
    with pytest.raises(BadValue) as err:
        ingest_nvidia_smi(wh, bad)
    assert (err.value.row, err.value.column) == (3, "timestamp")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(MissingColumn) as missing:
        ingest_nvidia_smi(wh, other)
    assert missing.value.column == "timestamp"


def test_nvidia_smi_restart_with_other_fields_reads_each_part_by_its_header(
    wh: Warehouse, tmp_path: Path
) -> None:
    # Logging restarted with another --query-gpu list (no uuid, power before memory) and
    # appended to the same file: the lines after the second header have its columns.
    log = tmp_path / "gpu-r.csv"
    log.write_text(
        WITH_UNITS
        + "timestamp, index, name, utilization.gpu [%], power.draw [W], memory.used [MiB]\n"
        + "2026/05/01 11:00:00.000, 0, NVIDIA A100-SXM4-80GB, 33 %, 250.00 W, 7000 MiB\n"
    )
    result = ingest_nvidia_smi(wh, log, resolution=60)
    rows = {r["time"].hour * 60 + r["time"].minute: r for r in _samples(wh)}
    assert result.skipped == {REPEATED_HEADER: 1}
    assert sorted(rows) == [600, 601, 660]
    after = rows[660]
    assert after["utilization"] == pytest.approx(0.33)
    assert after["power_watts"] == pytest.approx(250.0)
    assert after["memory_used_bytes"] == 7000 * 2**20
    assert after["gpu_uuid"] is None and after["gpu_model"] == "A100-80GB"


def test_nvidia_smi_gzipped_log_cut_mid_value_and_a_line_too_long(
    wh: Warehouse, tmp_path: Path
) -> None:
    # A log gzipped while its last line was being written, cut inside its last value: the
    # cut line is skipped, the whole ones load.
    cut = "2026/05/01 10:02:05.120, 0, GPU-aaaa, NVIDIA A100-SXM4-80GB, 5 %, 1 MiB, 2 MiB, [N/"
    with gzip.open(tmp_path / "gpu-z.csv.1.gz", "wt") as fh:
        fh.write(WITH_UNITS + cut)
    result = ingest_nvidia_smi(wh, tmp_path / "gpu-z.csv.1.gz")
    assert result.skipped == {PARTIAL_LINE: 1}
    assert sum(r["sample_count"] for r in _samples(wh)) == 3  # type: ignore[misc]
    # A line with more fields than its header is not a sample nvidia-smi wrote: the load fails.
    bad = tmp_path / "long.csv"
    bad.write_text(
        WITH_UNITS + "2026/05/01 10:03:05.120, 0, GPU-aaaa, A100, 5 %, 1 MiB, 2 MiB, 3 W, 9\n"
    )
    with pytest.raises(InvalidInput) as err:
        ingest_nvidia_smi(wh, bad)
    assert Path(err.value.file or "").name == "long.csv"
    assert sum(r["sample_count"] for r in _samples(wh)) == 3  # type: ignore[misc]


def _spool_line(**fields: object) -> str:
    return json.dumps({"schema": 1, **fields}) + "\n"


RUN = {
    "kind": "run",
    "run_id": "r1",
    "name": "llama-ft",
    "tags": {"team": "search", "kind": "fine-tuning"},
    "start": "2026-05-01T10:00:00Z",
    "end": None,
    "status": "running",
    "cloud": "aws",
    "region": "us-east-1",
    "instance_type": "p4d.24xlarge",
    "purchase": "spot",
    "resource_id": "i-0abc",
    "gpu_model": "NVIDIA A100-SXM4-40GB",
    "gpu_count": 8,
    "gpu_hours": 8.0,
    "used_gpu_hours": 6.0,
    "peak_memory_bytes": 3e10,
    "hourly_price": {"amount": "8.19", "currency": "USD"},
    "cost": {"amount": "8.19", "currency": "USD"},
    "checkpoint_seconds": 40,
    "metrics": {"loss": 1.25},
    "stopped_reason": None,
}


def test_tracker_spool_runs_samples_and_cache_stats(wh: Warehouse, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    finished = {
        **RUN,
        "end": "2026-05-01T12:00:00Z",
        "status": "finished",
        "cost": {"amount": "16.38", "currency": "USD"},
    }
    (spool / "a.jsonl").write_text(
        _spool_line(**RUN)
        + _spool_line(
            kind="gpu_sample",
            run_id="r1",
            resource_id=None,
            time="2026-05-01T10:00:10Z",
            gpu_index=0,
            uuid="GPU-1",
            gpu_model="NVIDIA A100-SXM4-40GB",
            utilization=0.5,
            memory_used_bytes=10,
            memory_total_bytes=100,
            power_watts=200,
        )
        + _spool_line(
            kind="gpu_sample",
            run_id="r1",
            resource_id=None,
            time="2026-05-01T10:00:40Z",
            gpu_index=0,
            uuid="GPU-1",
            gpu_model="NVIDIA A100-SXM4-40GB",
            utilization=1.0,
            memory_used_bytes=30,
            memory_total_bytes=100,
            power_watts=400,
        )
        + _spool_line(**finished)
        + _spool_line(
            kind="cache_stats",
            run_id="r1",
            time="2026-05-01T11:00:00Z",
            cache="prompt",
            hits=90,
            misses=10,
            saved_seconds=12.5,
            saved={"amount": "0.42", "currency": "USD"},
        )
    )
    (spool / "b.jsonl.tmp").write_text("{half a line")  # still being written: not read
    result = ingest_tracker(wh, spool)
    assert result.tables == {"gpu_samples": 1, "workloads": 1, "cache_stats": 1}
    [run] = wh.table("workloads").to_pyarrow().to_pylist()
    # The last line for a run_id wins.
    assert run["status"] == "finished" and str(run["cost"]) == "16.380000000000"
    assert run["gpu_model"] == "A100-40GB" and dict(run["tags"])["team"] == "search"
    assert run["kind"] == "fine-tuning" and dict(run["params"])["purchase"] == "spot"
    [sample] = wh.table("gpu_samples").to_pyarrow().to_pylist()
    assert sample["resource_id"] == "i-0abc"  # from its run
    assert sample["utilization"] == pytest.approx(0.75) and sample["sample_count"] == 2
    # A newer spool file updating the run replaces the earlier row.
    (spool / "c.jsonl").write_text(
        _spool_line(**{**finished, "status": "stopped", "stopped_reason": "budget"})
    )
    again = ingest_tracker(wh, spool / "c.jsonl")
    assert again.rows_replaced == 1
    [run] = wh.table("workloads").to_pyarrow().to_pylist()
    assert run["status"] == "stopped"


@pytest.mark.parametrize(
    ("line", "row", "column"),
    [
        (_spool_line(kind="nope"), 2, "kind"),
        (_spool_line(**{**RUN, "start": "May 1st"}), 2, "start"),
        (_spool_line(**{**RUN, "status": "done"}), 2, "status"),
        (_spool_line(**{**RUN, "cost": {"amount": "x", "currency": "USD"}}), 2, "cost"),
        (
            _spool_line(kind="gpu_sample", run_id="r", time="2026-05-01T00:00:00Z", utilization=75),
            2,
            "utilization",
        ),
        (json.dumps({"schema": 2, "kind": "run"}) + "\n", 2, "schema"),
    ],
)
def test_tracker_bad_records(
    wh: Warehouse, tmp_path: Path, line: str, row: int, column: str
) -> None:
    spool = tmp_path / "s.jsonl"
    spool.write_text(_spool_line(**RUN) + line)
    with pytest.raises(BadValue) as err:
        ingest_tracker(wh, spool)
    assert (err.value.file, err.value.row, err.value.column) == (str(spool.resolve()), row, column)
    assert wh.table("workloads").count().execute() == 0


def test_tracker_truncated_line(wh: Warehouse, tmp_path: Path) -> None:
    spool = tmp_path / "s.jsonl"
    spool.write_text(_spool_line(**RUN) + '{"schema": 1, "kind": "ru')
    with pytest.raises(InvalidInput) as err:
        ingest_tracker(wh, spool)
    assert err.value.row == 2


def test_tracker_metric_history_spool_and_export(wh: Warehouse, tmp_path: Path) -> None:
    # The spool's `metric` records and an exported run's `metric_history` → run_metrics.
    spool = tmp_path / "a.jsonl"
    spool.write_text(
        _spool_line(**RUN)
        + _spool_line(kind="metric", run_id="r1", key="eval_loss", step=100, value=1.2)
        + _spool_line(
            kind="metric",
            run_id="r1",
            key="eval_loss",
            step=200,
            value=1.1,
            time="2026-05-01T11:00:00Z",
        )
    )
    export = tmp_path / "runs.jsonl"
    export.write_text(
        json.dumps(
            {
                "experiment": "atlas",
                "run_id": "e1",
                "run_name": "ft-1",
                "metric_history": {"eval_loss": [{"step": 1, "value": 2.0}]},
            }
        )
        + "\n"
    )
    assert ingest_tracker(wh, spool).tables["run_metrics"] == 2
    assert ingest_tracker(wh, export).tables == {"workloads": 1, "run_metrics": 1}
    t = wh.table("run_metrics")
    rows = t.order_by([t.workload_id, t.step]).to_pyarrow().to_pylist()
    assert [(r["workload_id"], r["key"], r["step"], r["value"]) for r in rows] == [
        ("tracker:e1", "eval_loss", 1, 2.0),
        ("tracker:r1", "eval_loss", 100, 1.2),
        ("tracker:r1", "eval_loss", 200, 1.1),
    ]
    assert str(rows[2]["time"]) == "2026-05-01 11:00:00"
    # A point without a value names the file, row and field.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_spool_line(kind="metric", run_id="r1", key="eval_loss", step=3))
    with pytest.raises(BadValue) as err:
        ingest_tracker(wh, bad)
    assert (err.value.row, err.value.column) == (1, "value")
