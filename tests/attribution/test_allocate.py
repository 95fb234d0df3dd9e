"""Shared-cost rules, credits, corrections and restatements: allocated rows sum to their origin."""

from __future__ import annotations

from decimal import Decimal

from mlcost import Warehouse
from mlcost.attribution import allocate, month_window
from mlcost.config import AttributionConfig, SharedRule
from tests.attribution.conftest import (
    MONTH,
    by_bucket,
    hour,
    line,
    origin_sums_match,
    put,
    sample,
    workload,
)


def _teams(wh: Warehouse) -> None:
    # search spends 30.00 directly, vision 10.00 on a GPU hour (fully used); plus a 4.00
    # control-plane charge nobody owns.
    put(
        wh,
        "cost_line_items",
        [
            line("30.00", resource="db", tags={"team": "search"}),
            line("10.00", resource="gpu", gpus=1, tags={"team": "vision"}),
            line("4.00", ServiceName="EKS"),
        ],
    )
    put(wh, "gpu_samples", [sample("gpu", 0.5, 1.0)])


def _shared(wh: Warehouse, rule: SharedRule) -> dict[object, Decimal]:
    allocate(wh, AttributionConfig(shared=(rule,)), *month_window(MONTH))
    assert origin_sums_match(wh)
    out: dict[object, Decimal] = {}
    for (bucket, owner, _), v in by_bucket(wh).items():
        if bucket == "shared":
            out[owner] = out.get(owner, Decimal(0)) + v
    return out


def test_proportional_to_direct_cost(wh: Warehouse) -> None:
    # 4.00 split 30:10 by direct cost.
    _teams(wh)
    rule = SharedRule(name="cp", method="proportional", match={"ServiceName": ("EKS",)})
    assert _shared(wh, rule) == {"search": Decimal("3.00"), "vision": Decimal("1.00")}


def test_proportional_to_gpu_hours(wh: Warehouse) -> None:
    # Only vision used GPU-hours: it carries the whole control plane.
    _teams(wh)
    rule = SharedRule(
        name="cp", method="proportional", basis="gpu_hours", match={"ServiceName": ("EKS",)}
    )
    assert _shared(wh, rule) == {"vision": Decimal("4.00")}


def test_even(wh: Warehouse) -> None:
    # 4.00 over the two owners with direct cost, evenly.
    _teams(wh)
    rule = SharedRule(name="cp", method="even", match={"ServiceName": ("EKS",)})
    assert _shared(wh, rule) == {"search": Decimal("2.00"), "vision": Decimal("2.00")}


def test_fixed_weights_split_a_credit(wh: Warehouse) -> None:
    # A -10.00 credit split 3:1 by fixed weights; shares of a negative charge are negative.
    _teams(wh)
    put(wh, "cost_line_items", [line("-10.00", ChargeCategory="Credit")])
    rule = SharedRule(
        name="credit",
        method="fixed",
        match={"ChargeCategory": ("Credit",)},
        weights={"search": 3, "vision": 1},
    )
    assert _shared(wh, rule) == {"search": Decimal("-7.50"), "vision": Decimal("-2.50")}


def test_thirds_sum_back_exactly(wh: Warehouse) -> None:
    # 10.00 over three owners evenly does not divide; the rows still add up to 10.00 exactly.
    put(
        wh,
        "cost_line_items",
        [line("1", tags={"team": t}) for t in ("a", "b", "c")] + [line("10.00", ServiceName="X")],
    )
    rule = SharedRule(name="x", method="even", match={"ServiceName": ("X",)})
    allocate(wh, AttributionConfig(shared=(rule,)), *month_window(MONTH))
    a = wh.table("allocated_costs")
    shared = a.filter(a.x_Bucket == "shared")
    assert shared.EffectiveCost.sum().execute() == Decimal("10.000000000000")
    assert shared.count().execute() == 3


def test_untagged_remainder_spread_when_asked(wh: Warehouse) -> None:
    # An untagged 8.00 stays in the unallocated bucket, unless an `unowned` rule spreads it.
    _teams(wh)
    put(wh, "cost_line_items", [line("8.00", resource="mystery")])
    allocate(wh, AttributionConfig(), *month_window(MONTH))
    assert by_bucket(wh)[("direct", None, "mystery")] == Decimal("8.00")
    rule = SharedRule(name="rest", method="proportional", unowned=True)
    shared = _shared(wh, rule)
    assert shared == {"search": Decimal("9.00"), "vision": Decimal("3.00")}  # 8.00 + EKS 4.00


def test_a_correction_and_an_account_default_owner(wh: Warehouse) -> None:
    # A negative correction of an earlier charge is owned like any charge: by its tags, else
    # by its account's default owner.
    put(
        wh,
        "cost_line_items",
        [
            line("5.00", resource="vm"),
            line("-1.25", resource="vm", ChargeClass="Correction", tags={"team": "search"}),
        ],
    )
    config = AttributionConfig(accounts={"111122223333": {"team": "platform"}})
    allocate(wh, config, *month_window(MONTH))
    got = by_bucket(wh)
    assert got[("direct", "platform", "vm")] == Decimal("5.00")
    assert got[("direct", "search", "vm")] == Decimal("-1.25")


def test_a_job_spanning_a_restatement(wh: Warehouse) -> None:
    # A job runs 2 hours across two billing periods; the October period is restated (ingest 2
    # replaces ingest 1 at a new price). The allocation follows the restated bill, and the
    # job's September hour keeps its share.
    sep = {
        "BillingPeriodStart": hour(-24 * 30),
        "BillingPeriodEnd": hour(0),
    }
    put(
        wh,
        "cost_line_items",
        [
            line("6.00", resource="n", gpus=2, start=-1, tags={"team": "infra"}, **sep),
            line("6.00", resource="n", gpus=2, start=0, tags={"team": "infra"}),
        ],
    )
    put(wh, "workloads", [workload("slurm:9", "n", -1, 1, 1, tags={"team": "vision"})])
    put(
        wh,
        "cost_line_items",
        [line("8.00", resource="n", gpus=2, tags={"team": "infra"}, ingest=2)],
    )
    with wh.transaction():
        assert wh.replace_restated(2) == 1
    allocate(wh, AttributionConfig(), hour(-24 * 30), hour(24 * 31))
    got = by_bucket(wh)
    assert got[("gpu_unmeasured", "vision", "slurm:9")] == Decimal("7.00")  # 3.00 + 4.00
    assert got[("gpu_unallocated", "infra", "n")] == Decimal("7.00")
    assert origin_sums_match(wh)


def test_rebuilding_a_month_replaces_it(wh: Warehouse) -> None:
    # Allocating the same month twice leaves one copy, not two.
    _teams(wh)
    allocate(wh, AttributionConfig(), *month_window(MONTH))
    allocate(wh, AttributionConfig(), *month_window(MONTH))
    assert origin_sums_match(wh)
