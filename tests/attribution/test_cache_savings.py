"""Cache savings shown: a real PredictionCache run → spool → `mlcost ingest tracker` →
`mlcost cache stats` and the weekly report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.attribution.cache_savings import cache_savings
from mlcost.cache import ModelIdentity, Money, PredictionCache, write_stats
from mlcost.cli.main import cli
from mlcost.config import AttributionConfig
from mlcost.report import render_markdown, weekly_report
from mlcost.runtime import write_spool_file
from tests.attribution.conftest import line, put

PRICE = Decimal("0.0125")  # what one prediction of "sentiment" costs to compute


def run_caches(spool: Path) -> None:
    """Two caches in one serving run "serve-1" (model tag "sentiment-v2"): ``sentiment``
    priced per prediction, ``embeddings`` without a cost. ``sentiment`` reports twice
    (its counters are cumulative), then its process restarts and reports once more."""
    write_spool_file(
        spool / "run.jsonl",
        [
            {
                "schema": 1,
                "kind": "run",
                "run_id": "serve-1",
                "name": "sentiment-endpoint",
                "tags": {"model": "sentiment-v2", "kind": "inference"},
                "start": "2026-10-01T00:00:00Z",
                "end": None,
                "status": "running",
            }
        ],
    )
    model = ModelIdentity("sentiment", "2")
    cache = PredictionCache(name="sentiment", cost_per_prediction=Money(PRICE, "USD"))
    for i in range(10):  # 10 misses
        cache.get_or_compute(model, i, lambda: "pos")
    at = datetime(2026, 10, 1, 12, tzinfo=UTC)
    write_stats(cache.stats(), run_id="serve-1", spool=spool, time=at)
    for _ in range(3):  # 30 hits
        for i in range(10):
            cache.get_or_compute(model, i, lambda: "neg")
    write_stats(cache.stats(), run_id="serve-1", spool=spool, time=at.replace(hour=13))
    restarted = PredictionCache(name="sentiment", cost_per_prediction=Money(PRICE, "USD"))
    for _ in range(2):  # 1 miss, 1 hit
        restarted.get_or_compute(model, 0, lambda: "pos")
    write_stats(restarted.stats(), run_id="serve-1", spool=spool, time=at.replace(hour=14))
    free = PredictionCache(name="embeddings")
    for _ in range(4):  # 1 miss, 3 hits
        free.get_or_compute(model, "x", lambda: [0.1])
    write_stats(free.stats(), run_id="serve-1", spool=spool, time=at.replace(hour=14))


@pytest.fixture
def loaded(tmp_path: Path, wh_url: str) -> str:
    spool = tmp_path / "spool"
    spool.mkdir()
    run_caches(spool)
    result = CliRunner().invoke(cli, ["--warehouse", wh_url, "ingest", "tracker", str(spool)])
    assert result.exit_code == 0, result.output
    return wh_url


def test_cache_stats_shows_what_the_run_saved(loaded: str) -> None:
    result = CliRunner().invoke(cli, ["--warehouse", loaded, "cache", "stats", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["cache"]: r for r in json.loads(result.output)}
    s = rows["sentiment"]
    # 30 hits then a restart with 1 hit: 31 hits, 11 misses; saved = 31 x 0.0125.
    assert (s["hits"], s["misses"], s["model"]) == (31, 11, "sentiment-v2")
    assert Decimal(s["saved"]) == 31 * PRICE and s["currency"] == "USD"
    assert s["hit_rate"] == pytest.approx(31 / 42, abs=1e-4)
    e = rows["embeddings"]
    assert (e["hits"], e["misses"], e["saved"]) == (3, 1, None)  # no cost: unknown, not 0
    table = CliRunner().invoke(
        cli, ["--warehouse", loaded, "cache", "stats"], env={"COLUMNS": "200"}
    )
    assert "0.39" in table.output and "no cost" in table.output  # 0.3875 to the cent


def test_a_reloaded_spool_counts_each_report_once(loaded: str, tmp_path: Path) -> None:
    # Another load of the same lines (a second spool folder with a copy) adds nothing.
    again = tmp_path / "again"
    again.mkdir()
    run_caches(again)
    (again / "extra.jsonl").write_text("")
    CliRunner().invoke(cli, ["--warehouse", loaded, "ingest", "tracker", str(again)])
    with open_warehouse(loaded) as wh:
        rows = {r["cache"]: r for r in cache_savings(wh).to_pyarrow().to_pylist()}
    assert (rows["sentiment"]["hits"], rows["sentiment"]["misses"]) == (31, 11)


def test_weekly_report_has_the_cache_savings(loaded: str) -> None:
    with open_warehouse(loaded) as wh:
        put(wh, "cost_line_items", [line("5.00", resource="ep", start=h) for h in range(3)])
        r = weekly_report(wh, AttributionConfig(), week="2026-W40")
    (sentiment,) = [c for c in r.caches if c.cache == "sentiment"]
    assert (sentiment.hits, sentiment.saved, sentiment.model) == (
        31,
        (31 * PRICE).quantize(Decimal("0.01")),
        "sentiment-v2",
    )
    md = render_markdown(r)
    assert "Cache savings" in md and "0.39 USD" in md
