"""Commitments: the level worth reserving, unused reservations, contracts behind pace."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.commitment import best_level, detect_commitments
from tests.insights.conftest import hour, line, put

HOURS = 720  # thirty days: the default minimum look-back
OD = 5.672  # g5.12xlarge on-demand in us-east-1, as billed


def _day(n: int) -> datetime:
    return hour(24 * n)


def _host_hours(resource: str, hours: Iterable[int]) -> list[dict[str, Any]]:
    return [
        line(
            OD,
            resource=resource,
            start=h,
            gpus=4,
            tags={"team": "search"},
            x_InstanceType="g5.12xlarge",
            PricingCategory="Standard",
            RegionId="us-east-1",
            ServiceCategory="Compute",
        )
        for h in hours
    ]


def _host(resource: str, on: Any) -> list[dict[str, Any]]:
    return _host_hours(resource, [h for h in range(HOURS) if on(h)])


def test_steady_baseline_is_worth_committing(wh: Warehouse) -> None:
    # Two servers always on, a third on 4 hours in 10 (under the 63 % break-even).
    rows = _host("a", lambda h: True) + _host("b", lambda h: True)
    put(wh, "cost_line_items", rows + _host("c", lambda h: h % 10 < 4))
    [f] = detect_commitments(Context(wh))
    ev = f.evidence
    assert ev["pattern"] == "buy" and ev["level"] == 2 and ev["peak"] == 3
    assert ev["instance_type"] == "g5.12xlarge" and ev["region"] == "us-east-1"
    # The committed rate: the bill's on-demand rate x the catalog's reserved / on-demand.
    assert abs(ev["committed_rate"] - OD * 3.57336 / 5.672) < 1e-6
    # By hand: 2 commitments x 720 h save (on-demand - committed) each hour; 30 days: x 1.
    waste = 2 * HOURS * (OD - ev["committed_rate"])
    assert abs(ev["window_waste"] - waste) < 0.01
    assert abs(float(f.monthly_saving.expected) - waste) < 0.02
    assert ev["utilization"] == 1.0 and ev["coverage"] == round(1440 / 1728, 4)
    # Level 3 pays for the third server's idle hours too: 3 x 720 x committed.
    assert {"level": 3, "cost": round(3 * HOURS * ev["committed_rate"], 2)} in ev["levels"]
    assert ev["lookback_days"] == 30 and ev["running_at_end"] == 3
    assert "commit to 2 x g5.12xlarge in us-east-1" in f.action


def test_bursty_usage_is_not_worth_committing(wh: Warehouse) -> None:
    # Near-miss: one server on half the hours, under the 63 % the commitment needs to pay.
    put(wh, "cost_line_items", _host("a", lambda h: h % 2 == 0))
    assert detect_commitments(Context(wh)) == []


def test_short_history_recommends_nothing_and_the_look_back_is_configurable(
    wh: Warehouse,
) -> None:
    # Two servers always on, but only 14 days of bill: under the 30-day minimum look-back.
    put(wh, "cost_line_items", _host_hours("a", range(14 * 24)) + _host_hours("b", range(14 * 24)))
    assert detect_commitments(Context(wh)) == []
    # A team that accepts 14 days says so; the evidence states the look-back it used.
    [f] = detect_commitments(Context(wh, commitment_lookback_days=14))
    assert f.evidence["lookback_days"] == 14 and f.evidence["level"] == 2


def test_usage_that_has_ended_earns_no_commitment(wh: Warehouse) -> None:
    # One server ran steadily for 25 of the 30 days and was terminated: nothing runs at the
    # end, so nothing is worth a year. A second steady server still runs: level 1, not 2.
    put(wh, "cost_line_items", _host("gone", lambda h: h < 25 * 24))
    assert detect_commitments(Context(wh)) == []
    put(wh, "cost_line_items", _host("stays", lambda h: True))
    [f] = detect_commitments(Context(wh))
    assert f.evidence["level"] == 1 and f.evidence["running_at_end"] == 1
    assert f.evidence["ended_resource_hours"] == 25 * 24
    # By hand: one commitment for the 720 hours of the server that stays.
    assert abs(f.evidence["window_waste"] - HOURS * (OD - f.evidence["committed_rate"])) < 0.01


def test_level_follows_the_recent_baseline(wh: Warehouse) -> None:
    # 60 days of bill with a 30-day look-back: two servers for the first month, three for the
    # second (a third started on day 31). The level follows the last 30 days: 3.
    def host(name: str, first_day: int) -> list[dict[str, Any]]:
        return [
            r
            for r in _host_hours(name, range(60 * 24))
            if r["ChargePeriodStart"] >= _day(first_day)
        ]

    put(wh, "cost_line_items", host("a", 0) + host("b", 0) + host("c", 30))
    [f] = detect_commitments(Context(wh))
    assert f.evidence["level"] == 3 and f.evidence["lookback_start"] == "2026-10-31T00:00Z"
    assert f.evidence["history_days"] == 60


def test_best_level_is_the_break_even_quantile() -> None:
    # A level pays when it is used in more than committed / on-demand of the hours.
    assert best_level([1] * 7 + [0] * 3, od_rate=1.0, committed_rate=0.6)[0] == 1
    assert best_level([1] * 5 + [0] * 5, od_rate=1.0, committed_rate=0.6)[0] == 0


def _reservation(used_hours: int, unused_hours: int) -> list[dict[str, Any]]:
    ri = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/r-1"
    common = {
        "CommitmentDiscountId": ri,
        "CommitmentDiscountName": "p4d.24xlarge 1yr No Upfront Reserved Instance",
        "CommitmentDiscountType": "Reserved Instance",
        "PricingCategory": "Committed",
        "RegionId": "us-east-1",
    }
    used = [
        line(10, resource="i-hpc", start=h, CommitmentDiscountStatus="Used", **common)
        for h in range(used_hours)
    ]
    unused = [
        line(10, resource=ri, start=used_hours + h, CommitmentDiscountStatus="Unused", **common)
        for h in range(unused_hours)
    ]
    return used + unused


def test_underused_reservation_is_a_finding(wh: Warehouse) -> None:
    # 168 hours used, 72 unused: 70 % utilization over 10 days.
    put(wh, "cost_line_items", _reservation(168, 72))
    [f] = detect_commitments(Context(wh))
    ev = f.evidence
    assert ev["pattern"] == "unused" and ev["utilization"] == 0.7
    assert ev["unused_cost"] == 720 and ev["used_cost"] == 1680
    assert f.monthly_saving.expected == 2160  # 720 x 30 / 10
    assert f.resource_id.endswith("r-1")


def test_reservation_down_for_maintenance_is_not(wh: Warehouse) -> None:
    # Near-miss: 5 unused hours in 240 (98 % used), a maintenance window.
    put(wh, "cost_line_items", _reservation(235, 5))
    assert detect_commitments(Context(wh)) == []


def _contract(wh: Warehouse, applied_per_day: float) -> None:
    put(
        wh,
        "contract_commitments",
        [
            {
                "ContractId": "c-1",
                "ContractCommitmentId": "cc-1",
                "ContractCommitmentCategory": "Spend",
                "ContractCommitmentCost": 36500,
                "ContractCommitmentPeriodStart": datetime(2026, 10, 1),
                "ContractCommitmentPeriodEnd": datetime(2027, 10, 1),
                "BillingCurrency": "USD",
                "x_IngestId": 1,
            }
        ],
    )
    applied = {
        "ContractCommitmentID": "cc-1",
        "ContractCommitmentAppliedCost": applied_per_day,
        "ContractCommitmentAppliedQuantity": None,
        "ContractCommitmentAppliedUnit": None,
    }
    rows = [
        line(applied_per_day, start=d * 24, hours=24, ContractApplied=json.dumps([applied]))
        for d in range(10)
    ]
    put(wh, "cost_line_items", rows)


def test_contract_behind_its_pace_is_a_finding(wh: Warehouse) -> None:
    # 36,500 USD a year is 100 USD a day; 10 days applied 50 a day: 50 % of pace.
    _contract(wh, 50)
    [f] = detect_commitments(Context(wh))
    ev = f.evidence
    assert ev["pattern"] == "contract_shortfall" and ev["pace"] == 0.5
    # By hand: 36,500 - 500 / (10 / 365) = 18,250 short at the end; x 30 / 365 a month.
    assert ev["projected_shortfall"] == 18250
    assert f.monthly_saving.expected == 1500


def test_contract_on_pace_is_not(wh: Warehouse) -> None:
    # Near-miss: 95 USD a day is 95 % of the pace.
    _contract(wh, 95)
    assert detect_commitments(Context(wh)) == []
