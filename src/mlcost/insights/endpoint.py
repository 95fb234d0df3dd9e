"""Over-provisioned endpoints (``overprovisioned_endpoint``): replicas the traffic never needs.

An endpoint is the set of GPU resources serving one model (the ``model`` tag, else
``project``) on one instance type, with at least two replicas billed most of the window. Its
load is the sum of the replicas' mean GPU utilization per 15-minute sample; replicas needed =
ceil(peak load / ``TARGET_UTILIZATION``). Endpoints whose GPUs are far too large are left to
right-sizing (:func:`mlcost.insights.rightsize.is_oversized`): fewer of the wrong GPU is not the
fix. Saving: the endpoint's cost x (replicas - needed) / replicas; ``low`` keeps one spare.
"""

from __future__ import annotations

import math
from decimal import Decimal

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money
from mlcost.insights.rightsize import is_oversized
from mlcost.warehouse import fetch_rows

__all__ = ["TARGET_UTILIZATION", "detect_overprovisioned"]

TARGET_UTILIZATION = 0.6  # a replica is run at 60 % at peak, room for bursts
MIN_BILLED_SHARE = 0.5
SAMPLE_S = 900
MIN_MONTHLY = Decimal(100)


def detect_overprovisioned(ctx: Context) -> list[Finding]:
    """Endpoints whose peak load fits on fewer replicas."""
    t = ctx.lines()
    t = t.filter(t.ResourceId.notnull() & (t.x_GpuCount.cast("float64") > 0))
    model = t.Tags.get("model").fill_null(t.Tags.get("project"))
    tags = t.group_by(rid=t.ResourceId).aggregate(
        model=model.max(), instance_type=t.x_InstanceType.max()
    )
    groups: dict[tuple[str, str], list[str]] = {}
    for r in fetch_rows(tags, order_by=["rid"]):  # replicas by id: the first names the owner
        if r["model"] and r["instance_type"]:
            groups.setdefault((r["model"], r["instance_type"]), []).append(r["rid"])
    hours = ctx.gpu_hours
    span = max(1, round(ctx.days * 24))
    out = []
    for (model_name, instance), rids in sorted(groups.items()):
        rids = [r for r in rids if len(hours.get(r, [])) >= MIN_BILLED_SHARE * span]
        if len(rids) < 2 or any(is_oversized(hours[r]) for r in rids):
            continue
        s = ctx.samples()
        s = s.filter(s.rid.isin(rids))
        per = s.group_by(rid=s.rid, slot=s.time.epoch_seconds() // SAMPLE_S).aggregate(
            u=s.utilization.mean()
        )
        load = per.group_by("slot").aggregate(total=per.u.sum(), n=per.rid.nunique())
        peak = load.total.max().execute()
        # No sample of these replicas: pandas gives NaN (not None) for an empty max.
        if peak is None or math.isnan(float(peak)):
            continue
        peak = float(peak)
        n = len(rids)
        needed = max(1, math.ceil(round(peak / TARGET_UTILIZATION, 9)))
        if needed >= n:
            continue
        cost = sum((h.cost for r in rids for h in hours[r]), Decimal(0))
        waste = cost * (n - needed) / n
        expected = ctx.monthly(waste)
        if expected < MIN_MONTHLY:
            continue
        low = ctx.monthly(cost * max(n - needed - 1, 0) / n)
        first = hours[rids[0]][0]
        out.append(
            Finding(
                id=finding_id("overprovisioned_endpoint", model_name, instance),
                kind="overprovisioned_endpoint",
                resource_id=sorted(rids)[0],
                owner=first.owner,
                monthly_saving=Saving(low, expected, expected),
                confidence=0.8,
                action=f"scale {model_name} on {instance} from {n} to {needed} replicas "
                f"(peak load {peak:.0%} of one replica; target {TARGET_UTILIZATION:.0%})",
                evidence={
                    "rule": "needed = ceil(peak of summed replica utilization / target)",
                    "endpoint": model_name,
                    "instance_type": instance,
                    "replicas": n,
                    "replica_resource_ids": sorted(rids),
                    "peak_summed_utilization": round(peak, 4),
                    "target_utilization": TARGET_UTILIZATION,
                    "replicas_needed": needed,
                    "endpoint_cost": float(money(cost)),
                    **ctx.scaling(
                        waste,
                        "endpoint_cost x (replicas - replicas_needed) / replicas x monthly_factor",
                    ),
                },
            )
        )
    return out
