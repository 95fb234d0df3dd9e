"""Data transfer: cross-region charges are findings, internet egress is not."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.transfer import detect_transfer
from tests.insights.conftest import line, put


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


def test_internet_egress_is_not_cross_region(wh: Warehouse) -> None:
    # Near-miss: serving traffic out to the internet.
    put(
        wh,
        "cost_line_items",
        [_transfer("Data transfer out to the internet", 300, d) for d in range(10)],
    )
    assert detect_transfer(Context(wh)) == []
