"""Spend anomalies: a burst is one, a weekly batch is not."""

from __future__ import annotations

from typing import Any

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.anomaly import detect_anomalies
from tests.insights.conftest import hour, line, put

DAYS = 28  # four of each weekday


def _day(resource: str, cost: float, day: int, team: str = "llm") -> dict[str, Any]:
    return line(
        cost,
        resource=resource,
        start=day * 24,
        hours=24,
        tags={"team": team},
        ServiceName="Compute Engine",
        ChargeFrequency="Usage-Based",
        RegionId="us-central1",
    )


def _steady() -> list[dict[str, Any]]:
    # 2,000 USD a day of steady training, plus 5,000 USD of a weekly batch every Monday.
    rows = [_day("trainer", 2000 + (d % 3) * 10, d) for d in range(DAYS)]
    rows += [_day("weekly-batch", 5000, d) for d in range(DAYS) if hour(d * 24).weekday() == 0]
    return rows


def test_weekly_batch_is_not_an_anomaly(wh: Warehouse) -> None:
    # Near-miss: the Monday batch is its own weekday baseline.
    put(wh, "cost_line_items", _steady())
    assert detect_anomalies(Context(wh)) == []


def test_burst_is_an_anomaly_with_its_root_cause(wh: Warehouse) -> None:
    # A new fleet spends 6,000 USD on two days (a Tuesday and a Wednesday).
    burst = [_day("eval-fleet", 6000, d) for d in (19, 20)]
    put(wh, "cost_line_items", _steady() + burst)
    [f] = detect_anomalies(Context(wh))
    assert f.resource_id == "eval-fleet" and f.owner == "llm"
    assert [d["day"] for d in f.evidence["days"]] == ["2026-10-20", "2026-10-21"]
    assert f.evidence["root_cause"]["resource"][0] == {"value": "eval-fleet", "excess": 12000.0}
    # By hand: the excess over the weekday baselines, explained by the burst: 12,000 USD.
    assert float(f.monthly_saving.expected) == 12000.0


def test_small_bump_is_under_the_impact_floor(wh: Warehouse) -> None:
    # Near-miss: a 500 USD extra day is under the 1,000 USD minimum impact.
    put(wh, "cost_line_items", [*_steady(), _day("tiny", 500, 19)])
    assert detect_anomalies(Context(wh)) == []


def test_two_weeks_are_too_short_for_a_weekday_baseline(wh: Warehouse) -> None:
    # Near-miss: the same burst in a 14-day bill: under 21 days of history, no verdict.
    rows = [_day("trainer", 2000, d) for d in range(14)]
    put(wh, "cost_line_items", [*rows, _day("eval-fleet", 6000, 9)])
    assert detect_anomalies(Context(wh)) == []
