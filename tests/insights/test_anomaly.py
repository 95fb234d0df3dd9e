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
    # Near-miss: 900 USD extra on a 2,000 USD day: under the 1,000 USD absolute floor.
    put(wh, "cost_line_items", [*_steady(), _day("tiny", 900, 19)])
    assert detect_anomalies(Context(wh)) == []


def test_bump_under_the_relative_floor_of_a_large_team(wh: Warehouse) -> None:
    # Near-miss: 1,500 USD extra on a 5,000 USD day is 30 %, under the 40 % relative floor.
    rows = [_day("trainer", 5000 + (d % 3) * 10, d) for d in range(DAYS)]
    put(wh, "cost_line_items", [*rows, _day("extra", 1500, 19)])
    assert detect_anomalies(Context(wh)) == []


def test_small_team_burst_clears_the_relative_floor(wh: Warehouse) -> None:
    # A team that spends 200 USD a day spends 1,400 on day 19: 1,200 USD over (>= 1,000 USD
    # and 600 % of its baseline).
    rows = [_day("nb", 200, d, team="research") for d in range(DAYS)]
    put(wh, "cost_line_items", [*_steady(), *rows, _day("gpu-burst", 1200, 19, team="research")])
    [f] = detect_anomalies(Context(wh))
    assert f.owner == "research" and f.resource_id == "gpu-burst"
    assert f.evidence["excess"] == 1200 and f.evidence["baseline"] == 200
    assert float(f.monthly_saving.expected) == 1200.0


def test_two_weeks_are_enough_for_a_burst(wh: Warehouse) -> None:
    # 14 days: day 9's baseline is day 2 (the same weekday of the other week).
    rows = [_day("trainer", 2000, d) for d in range(14)]
    put(wh, "cost_line_items", [*rows, _day("eval-fleet", 6000, 9)])
    [f] = detect_anomalies(Context(wh))
    assert f.resource_id == "eval-fleet" and f.evidence["days"][0]["baseline"] == 2000
    assert float(f.monthly_saving.expected) == 6000.0


def test_weekly_batch_in_two_weeks_is_not_an_anomaly(wh: Warehouse) -> None:
    # Near-miss: the Monday batch of a 14-day bill is the other Monday's baseline.
    rows = [r for r in _steady() if r["ChargePeriodStart"] < hour(14 * 24)]
    put(wh, "cost_line_items", rows)
    assert detect_anomalies(Context(wh)) == []


def test_thirteen_days_are_too_short(wh: Warehouse) -> None:
    # Near-miss: under two of each weekday, no verdict.
    rows = [_day("trainer", 2000, d) for d in range(13)]
    put(wh, "cost_line_items", [*rows, _day("eval-fleet", 6000, 9)])
    assert detect_anomalies(Context(wh)) == []
