"""Inference served volume: a CSV, and request/token counters from a real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.errors import BadValue, MissingColumn
from mlcost.sources import detect_source
from mlcost.sources.served_volume import ingest_served
from tests.conftest import snapshot
from tests.sources.promserver import running_prometheus

CSV = """endpoint,start,end,requests,tokens,resource_id,model
chat,2026-05-01T00:00:00Z,2026-05-01T01:00:00Z,1200,350000,i-0abc,llama-3-8b
chat,2026-05-01T01:00:00Z,2026-05-01T02:00:00Z,800,,i-0abc,llama-3-8b
ranker,2026-05-01T00:00:00Z,2026-05-01T01:00:00Z,50000,,gke-node-7,
"""


def _served(wh: Warehouse) -> list[dict[str, object]]:
    t = wh.table("workloads")
    t = t.filter(t.source == "served").order_by([t.name, t.start])
    return (
        t.select(
            "workload_id", "kind", "name", "start", "requests", "tokens", "resource_id", "tags"
        )
        .to_pyarrow()
        .to_pylist()
    )


def test_csv_rows_become_inference_workloads(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "served.csv"
    path.write_text(CSV)
    assert detect_source(path) == "served"
    result = ingest_served(wh, [path])
    assert result.tables == {"workloads": 3}
    rows = _served(wh)
    assert [(r["name"], r["requests"], r["tokens"], r["resource_id"]) for r in rows] == [
        ("chat", 1200.0, 350000.0, "i-0abc"),
        ("chat", 800.0, None, "i-0abc"),  # tokens not counted that hour: unknown, not 0
        ("ranker", 50000.0, None, "gke-node-7"),
    ]
    assert rows[0]["workload_id"] == "served:chat:2026-05-01T00:00:00Z"
    assert {r["kind"] for r in rows} == {"inference"}
    assert dict(rows[0]["tags"]) == {"endpoint": "chat", "model": "llama-3-8b"}  # type: ignore[arg-type]


def test_a_later_export_of_a_window_replaces_it(wh: Warehouse, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text(CSV)
    ingest_served(wh, [first])
    again = ingest_served(wh, [first])
    assert again.already_loaded
    corrected = tmp_path / "b.csv"
    corrected.write_text(CSV.replace(",1200,", ",1300,"))
    result = ingest_served(wh, [corrected])
    assert result.rows_replaced == 3
    assert [r["requests"] for r in _served(wh)] == [1300.0, 800.0, 50000.0]


@pytest.mark.parametrize(
    ("edit", "row", "column", "error"),
    [
        (("1200", "-5"), 1, "requests", BadValue),  # a negative count
        (("T02:00:00Z,800", "T00:30:00Z,800"), 2, "end", BadValue),  # end before start
        (("ranker,2026-05-01T00:00:00Z", "ranker,yesterday"), 3, "start", BadValue),
    ],
)
def test_bad_rows_name_row_and_column_and_write_nothing(
    wh: Warehouse, tmp_path: Path, edit: tuple[str, str], row: int, column: str, error: type
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(CSV.replace(*edit, 1))
    before = snapshot(wh)
    with pytest.raises(error) as info:
        ingest_served(wh, [path])
    assert (info.value.file, info.value.row, info.value.column) == (str(path), row, column)
    assert snapshot(wh) == before


def test_missing_header_column(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("endpoint,start,end\nchat,2026-05-01T00:00:00Z,2026-05-01T01:00:00Z\n")
    with pytest.raises(MissingColumn, match="requests"):
        ingest_served(wh, [path])


T0 = 1777593600  # 2026-05-01T00:00:00Z


def _counters() -> str:
    """Two endpoints' counters every 60 s for 2 hours: chat +2 requests and +500 tokens a minute."""
    lines = ["# TYPE app_requests counter"]
    for endpoint, rate in (("chat", 2), ("ranker", 30)):
        for k in range(121):
            lines.append(f'app_requests_total{{endpoint="{endpoint}"}} {rate * k} {T0 + 60 * k}')
    lines.append("# TYPE app_tokens counter")
    for k in range(121):
        lines.append(f'app_tokens_total{{endpoint="chat"}} {500 * k} {T0 + 60 * k}')
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_prometheus(_counters(), tmp_path_factory.mktemp("prom-served")) as url:
        yield url


def test_counters_from_a_real_prometheus(wh: Warehouse, prometheus: str) -> None:
    ingest_served(
        wh,
        url=prometheus,
        start=datetime(2026, 5, 1, 0, 0),
        end=datetime(2026, 5, 1, 2, 0),
        requests_metric="app_requests_total",
        tokens_metric="app_tokens_total",
        step=3600,
    )
    rows = _served(wh)
    got = {(r["name"], r["start"].hour): (r["requests"], r["tokens"]) for r in rows}  # type: ignore[union-attr]
    # increase() extrapolates to the window's edges; an hour of +2/min is 120 (±1 sample).
    assert set(got) == {("chat", 0), ("chat", 1), ("ranker", 0), ("ranker", 1)}
    for (endpoint, _hour), (requests, tokens) in got.items():
        per_minute = 2 if endpoint == "chat" else 30
        assert requests == pytest.approx(60 * per_minute, rel=0.02)
        assert (tokens is None) == (endpoint == "ranker")
        if tokens is not None:
            assert tokens == pytest.approx(60 * 500, rel=0.02)
