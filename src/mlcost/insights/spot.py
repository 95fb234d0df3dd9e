"""Spot candidates (``spot``): fault-tolerant work billed on-demand.

Fault-tolerant: a run that checkpoints (a ``checkpoint*`` parameter in the tracker), a sweep,
or batch work. Its resource must be billed on-demand (FOCUS PricingCategory ``Standard``).
Priced with the spot planner (:func:`mlcost.plan.spot.plan_spot`), not the list discount: the
billed hours are the work, the on-demand price is what the bill charged per hour, the spot
price comes from the catalog, and interruptions are taken at the catalog's Spot Advisor bucket
(``5-10%`` where it has none); ``low`` uses the worst bucket (``>20%``), ``high`` the best
(``<5%``). The planner's expected spot cost includes lost work and restarts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mlcost.insights._data import Context, HourRow
from mlcost.insights._finding import Finding, Saving, finding_id, money

__all__ = ["FAULT_TOLERANT_KINDS", "detect_spot"]

FAULT_TOLERANT_KINDS = ("sweep", "batch")
CHECKPOINT_MINUTES = 5.0
RESTART_MINUTES = 10.0
MIN_MONTHLY = Decimal(100)


def _spot_offer(instance_type: str, region: str | None) -> tuple[float, str] | None:
    from mlcost.catalog import offers

    found = [o for o in offers() if o.instance_type == instance_type and o.spot_usd_per_hour]
    here = [o for o in found if o.region == region] or found
    if not here:
        return None
    best = min(here, key=lambda o: o.spot_usd_per_hour or 0.0)
    bucket = best.interruption if best.interruption in _buckets() else "5-10%"
    return float(best.spot_usd_per_hour or 0.0), bucket


def _buckets() -> dict[str, float]:
    from mlcost.plan.spot import BUCKET_MONTHLY_SHARE

    return dict(BUCKET_MONTHLY_SHARE)


def _candidates(ctx: Context) -> dict[str, dict[str, Any]]:
    """Billed ResourceId -> the fault-tolerant run on it (name, kind, why)."""
    w = ctx.wh.table("workloads")
    links = ctx.wh.table("resource_links")
    j = w.join(links, w.resource_id.fill_null(w.node) == links.name)
    keys = j.params.keys().filter(lambda k: k.lower().contains("checkpoint"))
    j = j.select(
        rid=j.billed_resource_id,
        name=j.name,
        kind=j.kind,
        checkpoint=keys.length().fill_null(0) > 0,
    )
    out: dict[str, dict[str, Any]] = {}
    for r in j.to_pyarrow().to_pylist():
        if r["checkpoint"]:
            why = "checkpoints (tracker params)"
        elif r["kind"] in FAULT_TOLERANT_KINDS:
            why = f"{r['kind']} work restarts cheaply"
        else:
            continue
        out.setdefault(r["rid"], {**r, "why": why})
    return out


def detect_spot(ctx: Context) -> list[Finding]:
    """On-demand GPU resources running fault-tolerant work, priced on spot by the planner."""
    out = []
    for rid, run in sorted(_candidates(ctx).items()):
        rows = [r for r in ctx.gpu_hours.get(rid, []) if r.pricing == "Standard"]
        if not rows or not rows[0].instance_type:
            continue
        f = _finding(ctx, rid, run, rows)
        if f is not None:
            out.append(f)
    return out


def _finding(ctx: Context, rid: str, run: dict[str, Any], rows: list[HourRow]) -> Finding | None:
    from mlcost.plan.spot import plan_spot, rate_from_bucket

    first = rows[0]
    assert first.instance_type is not None
    offer = _spot_offer(first.instance_type, first.region)
    if offer is None:
        return None
    spot_price, bucket = offer
    hours = len(rows)
    cost = sum((r.cost for r in rows), Decimal(0))
    od_price = float(cost) / hours

    def plan(b: str) -> Any:
        return plan_spot(
            work_hours=float(hours),
            ondemand_usd_per_hour=od_price,
            spot_usd_per_hour=spot_price,
            interruptions_per_hour=rate_from_bucket(b),
            checkpoint_minutes=CHECKPOINT_MINUTES,
            restart_minutes=RESTART_MINUTES,
        )

    mid, worst, best = plan(bucket), plan(">20%"), plan("<5%")
    if not mid.worth_it:
        return None
    expected = ctx.monthly(Decimal(str(mid.saving)))
    if expected < MIN_MONTHLY:
        return None
    # The Daly optimum is often longer than the run; a 30-minute cap bounds lost work.
    every = max(1, min(30, round(mid.checkpoint_interval_hours * 60)))
    return Finding(
        id=finding_id("spot", rid),
        kind="spot",
        resource_id=rid,
        owner=first.owner,
        monthly_saving=Saving(
            ctx.monthly(Decimal(str(max(worst.saving, 0.0)))),
            expected,
            ctx.monthly(Decimal(str(best.saving))),
        ),
        confidence=0.8,
        action=f"run {run['name']} ({first.instance_type}) on spot with checkpoints every "
        f"{every} min: it {run['why']}",
        evidence={
            "run": run["name"],
            "why": run["why"],
            "instance_type": first.instance_type,
            "region": first.region,
            "on_demand_hours": hours,
            "on_demand_cost": float(money(cost)),
            "on_demand_usd_per_hour": round(od_price, 6),
            "spot_usd_per_hour": spot_price,
            "interruption_bucket": bucket,
            "interruptions_per_hour": round(mid.interruptions_per_hour, 6),
            "spot_wall_hours": round(mid.spot_wall_hours, 3),
            "spot_cost": round(mid.spot_cost, 2),
            "checkpoint_minutes": CHECKPOINT_MINUTES,
            "restart_minutes": RESTART_MINUTES,
            "window_waste": float(money(Decimal(str(mid.saving)))),
            "window_days": round(ctx.days, 4),
            "monthly_factor": ctx.monthly_factor,
            "saving_formula": "(on_demand_cost - spot_wall_hours x spot_usd_per_hour) "
            "x monthly_factor",
        },
    )
