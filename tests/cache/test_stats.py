"""Savings accounting and the spool record the sources engineer reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost.cache import CacheStats, ModelIdentity, Money, PredictionCache, spool_dir, write_stats
from mlcost.errors import InvalidInput


def test_spool_record_is_exactly_the_agreed_shape(tmp_path: Path) -> None:
    stats = CacheStats("sentiment", 90, 10, 45.0, 5.0, Money(Decimal("1.23"), "USD"))
    path = write_stats(
        stats, run_id="run-7", spool=tmp_path, time=datetime(2026, 11, 28, 12, tzinfo=UTC)
    )
    assert path.suffix == ".jsonl" and path.parent == tmp_path
    assert not list(tmp_path.glob("*.tmp"))
    (line,) = path.read_text().splitlines()
    assert json.loads(line) == {
        "schema": 1,
        "kind": "cache_stats",
        "run_id": "run-7",
        "time": "2026-11-28T12:00:00Z",
        "cache": "sentiment",
        "hits": 90,
        "misses": 10,
        "saved_seconds": 45.0,
        "saved": {"amount": "1.23", "currency": "USD"},
    }


def test_unknown_cost_is_null_not_zero(tmp_path: Path) -> None:
    cache = PredictionCache(name="no-cost")
    cache.get_or_compute(ModelIdentity("m"), 1, lambda: 1)
    record = json.loads(cache.report(spool=tmp_path).read_text())
    assert record["saved"] is None and record["run_id"] is None and record["misses"] == 1


def test_money_from_cost_per_prediction_and_from_hourly_price() -> None:
    per = PredictionCache(cost_per_prediction=Money(Decimal("0.0004"), "EUR"))
    for _ in range(3):
        per.get_or_compute(ModelIdentity("m"), 1, lambda: 1)
    assert per.stats().saved == Money(Decimal("0.0008"), "EUR")
    assert per.stats().hit_rate == pytest.approx(2 / 3)
    hourly = PredictionCache(usd_per_hour=3600.0)
    hourly.ledger.count(hit=True, seconds=0.5)
    saved = hourly.stats().saved
    assert saved is not None and saved.amount == Decimal("0.5") and saved.currency == "USD"
    with pytest.raises(InvalidInput, match="give one"):
        PredictionCache(cost_per_prediction=Money(Decimal(1)), usd_per_hour=1.0)


def test_money_renders_small_amounts_and_refuses_bad_currency() -> None:
    assert Money(Decimal("0.000123")).to_dict() == {"amount": "0.000123", "currency": "USD"}
    assert Money(Decimal("5")).to_dict()["amount"] == "5.00"
    assert Money(Decimal("1.5")).to_dict()["amount"] == "1.50"
    with pytest.raises(InvalidInput, match="ISO 4217"):
        Money(Decimal(1), "usd")


def test_spool_dir_precedence(tmp_path: Path) -> None:
    assert spool_dir({"MLCOST_SPOOL": str(tmp_path)}) == tmp_path
    assert spool_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/mlcost/spool")
    assert spool_dir({"HOME": "/h"}) == Path("/h/.local/share/mlcost/spool")


def test_report_uses_the_env_spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCOST_SPOOL", str(tmp_path / "spool"))
    path = PredictionCache(name="a/b c").report()
    assert path.parent == tmp_path / "spool" and "a_b_c" in path.name
