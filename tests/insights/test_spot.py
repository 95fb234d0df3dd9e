"""Spot candidates: checkpointing work on on-demand, priced with the spot planner."""

from __future__ import annotations

import statistics

from mlcost import Warehouse
from mlcost.catalog import hourly_price, offers
from mlcost.insights import Context
from mlcost.insights.spot import detect_spot
from mlcost.plan.spot import plan_spot
from tests.insights.conftest import gpu_host, put, workload

P4D = 21.957642  # the bill's on-demand price of p4d.24xlarge (us-east-1)


def _run(wh: Warehouse, pricing: str = "Standard", **params: str) -> None:
    price = P4D
    if pricing == "Dynamic":
        price = hourly_price("p4d.24xlarge", region="us-east-1", purchase="spot")
    bill, _ = gpu_host(
        "ft-1", range(24), price, lambda q: 0.9, instance="p4d.24xlarge", gpus=8, pricing=pricing
    )
    put(wh, "cost_line_items", bill)
    w = workload("tracker:ft-1", "ft-1", 0, 24, 8, params=params, kind="fine-tuning")
    put(wh, "workloads", [w])


def test_checkpointing_fine_tune_on_demand_goes_to_spot(wh: Warehouse) -> None:
    _run(wh, checkpoint_every_steps="500")
    [f] = detect_spot(Context(wh))
    ev = f.evidence
    # Priced at the spread of the workload's own region, not its cheapest zone: the median
    # of the us-east-1 zones' spot prices, the spread stated.
    zones = {
        o.zone: o.spot_usd_per_hour
        for o in offers()
        if o.instance_type == "p4d.24xlarge" and o.region == "us-east-1" and o.spot_usd_per_hour
    }
    assert len(zones) >= 3 and ev["zone_spot_usd_per_hour"] == dict(sorted(zones.items()))
    assert ev["spot_usd_per_hour"] == statistics.median(zones.values())
    assert ev["spot_usd_per_hour_range"] == [min(zones.values()), max(zones.values())]
    assert ev["spot_usd_per_hour"] > hourly_price(
        "p4d.24xlarge", region="us-east-1", purchase="spot"
    )
    # The interruption rate with its uncertainty: the bucket's range, the rate inside it.
    lo, hi = ev["interruptions_per_hour_range"]
    assert lo <= ev["interruptions_per_hour"] <= hi
    # The checkpoint interval the action says is the one the money is computed at.
    assert f"every {ev['checkpoint_interval_minutes']} min" in f.action
    again = plan_spot(
        work_hours=24,
        ondemand_usd_per_hour=P4D,
        spot_usd_per_hour=ev["spot_usd_per_hour"],
        interruptions_per_hour=ev["interruptions_per_hour"],
        interval_hours=ev["checkpoint_interval_minutes"] / 60,
    )
    assert abs(again.spot_cost - ev["spot_cost"]) < 0.05
    # By hand: on-demand cost - expected spot wall hours x spot price (x 30 / 1 day).
    assert abs(ev["window_waste"] - (ev["on_demand_cost"] - ev["spot_cost"])) < 0.01
    assert ev["spot_wall_hours"] >= 24  # the planner adds lost work and restarts
    assert f.monthly_saving.low <= f.monthly_saving.expected <= f.monthly_saving.high


def test_training_without_checkpoints_is_not_a_candidate(wh: Warehouse) -> None:
    # Near-miss: the same run with no checkpoint parameter cannot resume after a reclaim.
    _run(wh)
    assert detect_spot(Context(wh)) == []


def test_already_on_spot_is_not_a_candidate(wh: Warehouse) -> None:
    # Near-miss: billed as spot (Dynamic) already, at the spot price, rarely interrupted.
    _run(wh, pricing="Dynamic", checkpoint_every_steps="500")
    assert detect_spot(Context(wh)) == []


def _spot_run(wh: Warehouse, **params: str) -> float:
    """24 hours of g5.12xlarge billed at the catalog spot price (37 % of on-demand)."""
    price = hourly_price("g5.12xlarge", region="us-east-1", purchase="spot")
    bill, _ = gpu_host(
        "sp-1", range(24), price, lambda q: 0.9, instance="g5.12xlarge", gpus=4, pricing="Dynamic"
    )
    put(wh, "cost_line_items", bill)
    put(wh, "workloads", [workload("tracker:sp-1", "sp-1", 0, 24, 4, params=params)])
    return price


def test_spot_run_that_restarts_from_scratch_loses_money(wh: Warehouse) -> None:
    # 12 interruptions in 24 h (one every 2 h) and no checkpoints: most hours are redone.
    import math

    price = _spot_run(wh, interruptions="12")
    [f] = detect_spot(Context(wh))
    ev = f.evidence
    assert ev["pattern"] == "loses_money" and ev["interruptions_per_hour"] == 0.5
    assert ev["checkpoint_interval_minutes"] is None
    # By hand: W with 2 e^(R/2) (e^(W/2) - 1) = 24 h, R = 10 min (Daly's segment time).
    w = 2 * math.log(1 + 24 / (2 * math.exp((10 / 60) / 2)))
    assert abs(ev["useful_work_hours"] - w) < 1e-3
    od = hourly_price("g5.12xlarge", region="us-east-1")
    assert abs(ev["on_demand_cost"] - w * od) < 0.01
    assert ev["spot_cost"] == round(24 * price, 2) > ev["on_demand_cost"]
    # The fix is the cheaper of on-demand and spot with optimal checkpoints.
    assert ev["fix_cost"] == min(ev["on_demand_cost"], ev["spot_cost_optimal_checkpoints"])
    assert abs(ev["window_waste"] - (ev["spot_cost"] - ev["fix_cost"])) < 0.01
    assert "checkpoint" in f.action and f.monthly_saving.low <= f.monthly_saving.expected


def test_spot_run_with_frequent_checkpoints_keeps_its_discount(wh: Warehouse) -> None:
    # Near-miss: the same interruptions, but a checkpoint every 10 minutes loses little work.
    _spot_run(wh, interruptions="12", checkpoint_minutes="10")
    assert detect_spot(Context(wh)) == []


def test_spot_run_at_the_advisor_rate_does_not_lose_money(wh: Warehouse) -> None:
    # Near-miss: no checkpoints, but at the catalog's Spot Advisor rate a 24 h run is rarely hit.
    _spot_run(wh)
    assert detect_spot(Context(wh)) == []


# -- a bill alone: candidates from the bill's tags and names ---------------------------------


def _bill(wh: Warehouse, resource: str, tags: dict[str, str], **kw: object) -> None:
    """A p4d.24xlarge billed on-demand for 24 hours, a 6-hour stop, then 12 more hours."""
    hours = [*range(24), *range(30, 42)]
    bill = []
    for h in hours:
        rows, _ = gpu_host(
            resource,
            range(h, h + 1),
            P4D,
            lambda q: 0.9,
            instance="p4d.24xlarge",
            gpus=8,
            tags=tags,
            **kw,  # type: ignore[arg-type]
        )
        bill += rows
    put(wh, "cost_line_items", bill)


def test_a_bill_alone_flags_on_demand_gpus_tagged_as_training(wh: Warehouse) -> None:
    # No workload records: the tag says what the work is, and the bill says it ran on-demand.
    _bill(wh, "i-0train", {"team": "llm", "workload_type": "training"})
    [f] = detect_spot(Context(wh))
    ev = f.evidence
    assert ev["pattern"] == "bill_tags" and ev["run"] is None
    assert ev["why"] == "tag workload_type=training"
    assert (
        ev["basis"].startswith("bill alone") and "no job durations or checkpoints" in (ev["basis"])
    )
    assert "judged from the bill alone" in f.action and "workload_type=training" in f.action
    assert ev["instance_family"] == "p4d"
    assert ev["on_demand_hours"] == 36 and ev["longest_uninterrupted_hours"] == 24
    # Priced as a run-backed candidate: the median of the region's zones, the bucket's rate.
    zones = [
        o.spot_usd_per_hour
        for o in offers()
        if o.instance_type == "p4d.24xlarge" and o.region == "us-east-1" and o.spot_usd_per_hour
    ]
    assert ev["spot_usd_per_hour"] == statistics.median(zones)
    # Low: the dearest zone at the top of the bucket's interruption rate, the worse of
    # checkpointing every N min and of none (every job as long as the longest stretch, 24 h,
    # restarted from scratch); by hand with the planner.
    worst = {
        "none": (0.0, 24.0),
        "checkpoints": (5.0, ev["checkpoint_interval_minutes"] / 60),
    }
    low = min(
        plan_spot(
            work_hours=36,
            ondemand_usd_per_hour=P4D,
            spot_usd_per_hour=max(zones),
            interruptions_per_hour=ev["interruptions_per_hour_range"][1],
            checkpoint_minutes=c,
            interval_hours=tau,
        ).saving
        for c, tau in worst.values()
    )
    assert ev["low_without_checkpoints_spot_cost"] > 0
    days = ev["window_days"]
    assert abs(float(f.monthly_saving.low) - max(low, 0) * 30 / days) < 0.5
    assert f.monthly_saving.low <= f.monthly_saving.expected <= f.monthly_saving.high
    assert f.confidence < 0.8  # less sure than a candidate whose run is known


def test_a_bill_alone_reads_the_resource_name_and_dev_environments(wh: Warehouse) -> None:
    # A name that says training, no tag; and a dev environment tag (FOCUS sample's spelling).
    _bill(wh, "llm-finetune-07", {"team": "llm"})
    _bill(wh, "i-0dev", {"environment": "dev"})
    got = {f.resource_id: f.evidence["why"] for f in detect_spot(Context(wh))}
    assert got == {"llm-finetune-07": "name llm-finetune-07", "i-0dev": "tag environment=dev"}


def test_a_bill_alone_never_flags_serving_or_production(wh: Warehouse) -> None:
    # Near-misses: a training name in production, a serving component, an inference workload,
    # a neutral untagged instance, and training already billed on spot.
    _bill(wh, "llm-train-3", {"env": "prod"})
    _bill(wh, "i-0comp", {"workload": "batch", "app.kubernetes.io/component": "inference"})
    _bill(wh, "i-0serve", {"workload_type": "Inference"})
    _bill(wh, "i-0plain", {"team": "llm"})
    _bill(wh, "i-0spot", {"workload_type": "training"}, pricing="Dynamic")
    assert detect_spot(Context(wh)) == []


def test_with_workloads_loaded_the_tags_are_not_read(wh: Warehouse) -> None:
    # Runs are loaded and name a billed resource: candidates come from the runs only, as before
    # (the tagged host has no run, and the run does not checkpoint).
    _run(wh)
    _bill(wh, "i-0train", {"workload_type": "training"})
    assert detect_spot(Context(wh)) == []


def test_a_bill_alone_skips_hours_that_cost_nothing(wh: Warehouse) -> None:
    # The official FOCUS sample's shape: an on-demand g5 hour tagged environment=dev whose
    # EffectiveCost is 0 (its ListCost is not): nothing to save, and no planner error.
    bill, _ = gpu_host("i-0free", range(1), 0.0, lambda q: 0.9, tags={"environment": "dev"})
    put(wh, "cost_line_items", bill)
    assert detect_spot(Context(wh)) == []
