"""Data transfer: cross-region charges are findings; internet egress when it dominates."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.transfer import detect_transfer
from tests.insights.conftest import gpu_host, line, put


def _transfer(description: str, cost: float, day: int) -> dict[str, object]:
    return line(
        cost,
        resource="arn:aws:s3:::data-usw2",
        start=day * 24,
        hours=24,
        tags={"team": "llm"},
        ServiceCategory="Networking",
        RegionId="us-west-2",
        ChargeDescription=description,
        ChargeFrequency="Usage-Based",
        ConsumedQuantity=15000,
        ConsumedUnit="GB",
    )


def test_cross_region_reads_are_a_finding(wh: Warehouse) -> None:
    # 10 days of 300 USD: us-west-2 -> us-east-1.
    put(
        wh,
        "cost_line_items",
        [_transfer("Data transfer US West to US East", 300, d) for d in range(10)],
    )
    [f] = detect_transfer(Context(wh))
    assert f.evidence["from_region"] == "us-west-2" and f.evidence["to"] == "US East"
    assert f.evidence["window_waste"] == 3000 and f.monthly_saving.expected == 9000
    assert f.evidence["unit_price"] == 0.02


def _egress_and_gpu(wh: Warehouse, egress_per_day: float) -> None:
    """10 days of a 4 USD/h GPU (960 USD) of team llm, plus its internet egress."""
    bill, _ = gpu_host("i-serve", range(240), 4.0, lambda q: 0.5, tags={"team": "llm"})
    egress = [_transfer("Data transfer out to the internet", egress_per_day, d) for d in range(10)]
    put(wh, "cost_line_items", bill + egress)


def test_internet_egress_that_dominates_its_workload_is_a_finding(wh: Warehouse) -> None:
    # 10 x 300 USD of egress against 960 USD of GPU: 3000 / 3960 = 75.8 % of team llm.
    _egress_and_gpu(wh, 300)
    [f] = detect_transfer(Context(wh))
    ev = f.evidence
    assert (ev["from_region"], ev["to"]) == ("us-west-2", "internet")
    assert ev["egress_cost"] == 3000 and ev["workload_cost"] == 3960
    assert ev["egress_share"] == round(3000 / 3960, 4)
    # By hand: 3000 x 0.4 = 1200 over 10 days, x 3 for 30 days.
    assert ev["window_waste"] == 1200 and ev["monthly_factor"] == 3
    assert f.monthly_saving.expected == 3600
    assert (f.monthly_saving.low, f.monthly_saving.high) == (1800, 6300)
    assert "internet" in f.action and "CDN" in f.action


def test_internet_egress_under_a_quarter_of_its_workload_is_not(wh: Warehouse) -> None:
    # Near-miss: 10 x 30 USD of serving egress next to 960 USD of GPU is 23.8 % of the team.
    _egress_and_gpu(wh, 30)
    assert detect_transfer(Context(wh)) == []
