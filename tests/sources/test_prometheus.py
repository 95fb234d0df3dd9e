"""DCGM metrics from a real Prometheus server (Debian's `prometheus`), and from OpenMetrics files.

The test backfills an OpenMetrics history into a fresh TSDB with `promtool tsdb
create-blocks-from openmetrics`, starts `prometheus` on 127.0.0.1 with a free port and loads
the window over the HTTP API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.errors import BadValue
from mlcost.sources.prometheus import ingest_prometheus
from tests.sources.promserver import running_prometheus

T0 = 1777636800  # 2026-05-01T12:00:00Z
LABELS = 'gpu="{g}",UUID="GPU-{g}",modelName="NVIDIA H100 80GB HBM3",Hostname="gpu-node-1",container="main",namespace="search",pod="embedder-0"'


def _openmetrics() -> str:
    """2 GPUs, a sample every 30 s for 4 minutes; GPU 1's utilization climbs 0, 10, 20, ..."""
    lines = []
    for family, value in (
        ("DCGM_FI_DEV_GPU_UTIL", lambda g, k: 10 * k * g + 50 * (1 - g)),
        ("DCGM_FI_DEV_FB_USED", lambda g, k: 1000 + 100 * k),
        ("DCGM_FI_DEV_FB_FREE", lambda g, k: 80000 - 100 * k),
        ("DCGM_FI_DEV_POWER_USAGE", lambda g, k: 300.0 + g),
    ):
        lines.append(f"# TYPE {family} gauge")
        for g in (0, 1):
            for k in range(8):
                lines.append(f"{family}{{{LABELS.format(g=g)}}} {value(g, k)} {T0 + 30 * k}")
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_prometheus(_openmetrics(), tmp_path_factory.mktemp("prom")) as url:
        yield url


def _rows(wh: Warehouse) -> list[dict[str, object]]:
    t = wh.table("gpu_samples")
    return t.order_by([t.gpu_index, t.time]).to_pyarrow().to_pylist()


def test_query_range_from_real_prometheus(wh: Warehouse, prometheus: str) -> None:
    start, end = datetime(2026, 5, 1, 12, 0), datetime(2026, 5, 1, 12, 4)
    result = ingest_prometheus(wh, url=prometheus, start=start, end=end, resolution=60)
    rows = _rows(wh)
    assert result.tables == {"gpu_samples": 8}  # 2 GPUs x 4 one-minute buckets
    gpu1 = [r for r in rows if r["gpu_index"] == 1]
    # Minute 12:01 holds samples k=2 (12:01:00) and k=3 (12:01:30): 20 % and 30 %.
    m1 = next(r for r in gpu1 if r["time"] == datetime(2026, 5, 1, 12, 1))
    assert (m1["utilization"], m1["utilization_min"], m1["utilization_max"]) == pytest.approx(
        (0.25, 0.2, 0.3)
    )
    assert m1["sample_count"] == 2
    assert m1["memory_total_bytes"] == 81000 * 2**20
    assert (m1["resource_id"], m1["gpu_model"], m1["gpu_uuid"]) == ("gpu-node-1", "H100", "GPU-1")
    assert dict(m1["labels"]) == {"pod": "embedder-0", "namespace": "search", "container": "main"}
    # Loading the same window again changes nothing.
    assert ingest_prometheus(wh, url=prometheus, start=start, end=end, resolution=60).already_loaded


def test_chunks_give_the_same_rows(
    wh: Warehouse, prometheus: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlcost.sources import prometheus as module

    monkeypatch.setattr(module, "CHUNK_POINTS", 1)  # one step per request: many chunks
    start, end = datetime(2026, 5, 1, 12, 0), datetime(2026, 5, 1, 12, 4)
    ingest_prometheus(wh, url=prometheus, start=start, end=end, resolution=60)
    chunked = _rows(wh)
    # The same history read from the OpenMetrics file gives the same buckets.
    om = tmp_path / "dcgm.om.txt"
    om.write_text(_openmetrics())
    from mlcost import open_warehouse

    with open_warehouse(f"duckdb://{tmp_path / 'w2.duckdb'}") as other:
        ingest_prometheus(other, om, resolution=60)
        from_file = _rows(other)

    def same(r: dict[str, object]) -> dict[str, object]:
        # Prometheus averages in float64 in another order: compare to 9 digits.
        return {
            k: round(v, 9) if isinstance(v, float) else v for k, v in r.items() if k != "ingest_id"
        }

    assert [same(r) for r in chunked] == [same(r) for r in from_file]


def test_bad_openmetrics_line(wh: Warehouse, tmp_path: Path) -> None:
    om = tmp_path / "x.om.txt"
    om.write_text(_openmetrics().replace(f"300.0 {T0 + 60}", f"hot {T0 + 60}", 1))
    with pytest.raises(BadValue) as err:
        ingest_prometheus(wh, om)
    assert err.value.column == "DCGM_FI_DEV_POWER_USAGE" and err.value.row is not None
    assert wh.table("gpu_samples").count().execute() == 0


def test_files_read_by_the_engine_give_the_python_parsers_buckets(
    engine_url: str, tmp_path: Path
) -> None:
    """The engine's reading of exposition files equals the line-by-line Python parser's, on
    DuckDB and on Spark."""
    from mlcost import open_warehouse
    from mlcost.sources._samples import downsample
    from mlcost.sources.prometheus import _file_samples

    field = Path(__file__).parent.parent / "data" / "field" / "dcgm" / "gpu-f.om.txt"
    odd = tmp_path / "odd.om.txt"
    odd.write_text(
        "# a GPU without an index label (told apart by UUID), a fractional timestamp, an\n"
        "# unrelated metric without a timestamp, a blank line and an indented sample\n"
        'DCGM_FI_DEV_GPU_UTIL{UUID="GPU-x",instance="10.0.0.7:9400"} 30 1777636800.5\n'
        'DCGM_FI_DEV_GPU_UTIL{UUID="GPU-y",instance="10.0.0.7:9400"} 70 1777636801\n'
        "\n"
        "process_start_time_seconds 1.7e9\n"
        '   DCGM_FI_DEV_FB_USED{UUID="GPU-x",instance="10.0.0.7:9400"} 512 1777636800.5\n'
        'DCGM_FI_DEV_POWER_USAGE{UUID="GPU-y",instance="10.0.0.7:9400",pod=""} 99.5 1777636861\n'
        "# a brace inside a label value, and a tab between value and timestamp\n"
        'DCGM_FI_DEV_GPU_UTIL{gpu="2",pod="a}b",Hostname="h"} 5\t1777636800\n'
    )
    big = tmp_path / "dcgm.om.txt"
    big.write_text(_openmetrics())
    files = [field, odd, big]
    with open_warehouse(engine_url) as wh:
        ingest_prometheus(wh, files, resolution=60)
        t = wh.table("gpu_samples")
        # Maps as key and value lists: pyarrow cannot take Spark's maps back as maps.
        rows = t.mutate(keys=t.labels.keys(), values=t.labels.values()).drop("labels")
        loaded = [
            {**r, "labels": dict(zip(r.pop("keys") or [], r.pop("values") or [], strict=True))}
            for r in rows.to_pyarrow().to_pylist()
        ]

    def key(r: dict[str, object]) -> tuple[str, ...]:
        # Floats to 9 digits (the engine sums in another order); labels as a dict.
        out = {k: round(v, 9) if isinstance(v, float) else v for k, v in r.items()}
        labels = dict(r["labels"] or {})  # type: ignore[call-overload]
        return (*(str(out.get(k)) for k in COLUMNS), str(labels))

    expected = [row for f in files for row in downsample(_file_samples(f), 60)]
    assert len(loaded) == len(expected) > 10
    assert sorted(map(key, loaded)) == sorted(map(key, expected))
    # The indented FB_USED line merged into GPU-x's sample at the same instant.
    gpu_x = [r for r in loaded if r["gpu_uuid"] == "GPU-x"]
    assert [(r["sample_count"], r["memory_used_bytes"]) for r in gpu_x] == [(1, 512 * 2**20)]


COLUMNS = (
    "time",
    "resolution_s",
    "resource_id",
    "gpu_index",
    "gpu_uuid",
    "gpu_model",
    "utilization",
    "utilization_min",
    "utilization_max",
    "memory_used_bytes",
    "memory_used_max_bytes",
    "memory_total_bytes",
    "power_watts",
    "sample_count",
)


@pytest.mark.parametrize(
    "line",
    [
        'DCGM_FI_DEV_GPU_UTIL{gpu="0"}5 1777636800',  # no space after the labels
        'DCGM_FI_DEV_GPU_UTIL{gpu="0"} 5 1777636800 9',  # a third number
        'DCGM_FI_DEV_GPU_UTIL{gpu="0" 5 1777636800',  # the labels never close
        "DCGM_FI_DEV_GPU_UTIL 5 {x}",  # a timestamp that is not a number
        '9DCGM{gpu="0"} 5 1777636800',  # a name cannot start with a digit
        'DCGM_FI_DEV_GPU_UTIL{gpu="0"} 5',  # a wanted sample without a timestamp
    ],
)
def test_a_line_the_python_parser_refuses_fails_the_engine_load_too(
    wh: Warehouse, tmp_path: Path, line: str
) -> None:
    om = tmp_path / "x.om.txt"
    om.write_text(_openmetrics().replace("# EOF\n", line + "\n# EOF\n"))
    with pytest.raises(BadValue) as err:
        ingest_prometheus(wh, om)
    assert err.value.row == _openmetrics().count("\n")  # the line before '# EOF'
    assert wh.table("gpu_samples").count().execute() == 0
