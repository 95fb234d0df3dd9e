"""Spot candidates: checkpointing work on on-demand, priced with the spot planner."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.catalog import hourly_price
from mlcost.insights import Context
from mlcost.insights.spot import detect_spot
from tests.insights.conftest import gpu_host, put, workload

P4D = 21.957642  # the bill's on-demand price of p4d.24xlarge (us-east-1)


def _run(wh: Warehouse, pricing: str = "Standard", **params: str) -> None:
    bill, _ = gpu_host(
        "ft-1", range(24), P4D, lambda q: 0.9, instance="p4d.24xlarge", gpus=8, pricing=pricing
    )
    put(wh, "cost_line_items", bill)
    w = workload("tracker:ft-1", "ft-1", 0, 24, 8, params=params, kind="fine-tuning")
    put(wh, "workloads", [w])


def test_checkpointing_fine_tune_on_demand_goes_to_spot(wh: Warehouse) -> None:
    _run(wh, checkpoint_every_steps="500")
    [f] = detect_spot(Context(wh))
    ev = f.evidence
    assert ev["spot_usd_per_hour"] == hourly_price(
        "p4d.24xlarge", region="us-east-1", purchase="spot"
    )
    # By hand: on-demand cost - expected spot wall hours x spot price (x 30 / 1 day).
    assert abs(ev["window_waste"] - (ev["on_demand_cost"] - ev["spot_cost"])) < 0.01
    assert ev["spot_wall_hours"] >= 24  # the planner adds lost work and restarts
    assert f.monthly_saving.low <= f.monthly_saving.expected <= f.monthly_saving.high


def test_training_without_checkpoints_is_not_a_candidate(wh: Warehouse) -> None:
    # Near-miss: the same run with no checkpoint parameter cannot resume after a reclaim.
    _run(wh)
    assert detect_spot(Context(wh)) == []


def test_already_on_spot_is_not_a_candidate(wh: Warehouse) -> None:
    # Near-miss: billed as spot (Dynamic) already.
    _run(wh, pricing="Dynamic", checkpoint_every_steps="500")
    assert detect_spot(Context(wh)) == []
