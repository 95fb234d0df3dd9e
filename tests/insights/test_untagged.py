"""Untagged share: the money no owner tag reaches, with its largest resources."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.untagged import detect_untagged
from tests.insights.conftest import line, put


def test_untagged_share_and_top_resources(wh: Warehouse) -> None:
    # 900 USD tagged (two spellings of the key), 100 USD with no team key at all.
    rows = [
        line(600, resource="a", tags={"team": "vision"}),
        line(300, resource="b", tags={"Team": "search"}),
        line(100, resource="c", tags={"env": "dev"}),
    ]
    put(wh, "cost_line_items", rows)
    [f] = detect_untagged(Context(wh))
    assert f.evidence["share"] == 0.1 and f.evidence["untagged_cost"] == 100
    assert f.evidence["top_untagged"][0]["resource"] == "c"
    assert f.monthly_saving.expected == 0  # tagging saves nothing by itself


def test_fully_tagged_bill_has_no_finding(wh: Warehouse) -> None:
    # Near-miss: every row has an owner.
    put(wh, "cost_line_items", [line(600, resource="a", tags={"team": "vision"})])
    assert detect_untagged(Context(wh)) == []
