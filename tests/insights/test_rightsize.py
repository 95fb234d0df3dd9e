"""Right-sizing: a small model on a big GPU moves to the cheapest GPU that holds it."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.catalog import hourly_price
from mlcost.insights import Context
from mlcost.insights.rightsize import detect_rightsize
from tests.insights.conftest import gpu_host, put

A100_80 = 3.673


def _host(wh: Warehouse, memory_gib: float, util: float) -> None:
    bill, samples = gpu_host(
        "rerank-0",
        range(48),
        A100_80,
        lambda q: util,
        instance="Standard_NC24ads_A100_v4",
        region="eastus",
        memory_gib=memory_gib,
        total_gib=80,
    )
    put(wh, "cost_line_items", bill)
    put(wh, "gpu_samples", samples)


def test_small_model_on_a100_80gb_moves_to_t4(wh: Warehouse) -> None:
    # 3 GiB peak of 80 GiB at 23 % peak: a 16 GiB T4 holds 1.5 x 3 GiB.
    _host(wh, 3.0, 0.23)
    [f] = detect_rightsize(Context(wh))
    assert f.evidence["alternative"] == "Standard_NC4as_T4_v3"
    t4 = hourly_price("Standard_NC4as_T4_v3", region="eastus")
    # By hand: (48 h x 3.673 - 48 h x T4 price) x 30 / 2 days.
    assert abs(f.evidence["window_waste"] - 48 * (A100_80 - t4)) < 0.01
    assert "T4" in f.action


def test_model_that_fills_the_gpu_is_not_oversized(wh: Warehouse) -> None:
    # Near-miss: 50 GiB of 80 GiB in use.
    _host(wh, 50.0, 0.23)
    assert detect_rightsize(Context(wh)) == []


def test_busy_gpu_is_not_oversized(wh: Warehouse) -> None:
    # Near-miss: little memory but 90 % busy: a smaller GPU would be too slow.
    _host(wh, 3.0, 0.9)
    assert detect_rightsize(Context(wh)) == []
