"""Spot candidates (``spot``): fault-tolerant work billed on-demand.

Fault-tolerant: a run that checkpoints (a ``checkpoint*`` parameter in the tracker), a sweep,
or batch work. Its resource must be billed on-demand (FOCUS PricingCategory ``Standard``).
Priced with the spot planner (:func:`mlcost.plan.spot.plan_spot`), not the list discount: the
billed hours are the work, the on-demand price is what the bill charged per hour, the spot
price comes from the catalog, and interruptions are taken at the catalog's Spot Advisor bucket
(``5-10%`` where it has none); ``low`` uses the worst bucket (``>20%``), ``high`` the best
(``<5%``). The planner's expected spot cost includes lost work and restarts.

Spot that loses money (evidence ``pattern: loses_money``): a resource billed on spot
(PricingCategory ``Dynamic``) running a run, where interruptions cost more than the discount.
The run's interruption rate is its ``interruptions`` parameter over its hours (what it saw),
else the catalog's Spot Advisor bucket; its checkpoint interval is its ``checkpoint_minutes``
(or ``checkpoint_seconds``) parameter, ``ASSUMED_INTERVAL_MINUTES`` when it checkpoints by
steps, and the whole run when it does not checkpoint. The useful work ``W`` is the hours of
work whose expected spot wall time (:func:`mlcost.plan.spot.expected_hours`) equals the billed
spot hours; on-demand would have cost ``W`` x the catalog's on-demand price. When the billed
spot cost is higher, the fix is the cheaper of on-demand and spot with Daly-optimal
checkpoints (:func:`~mlcost.plan.spot.plan_spot`); saving = billed - that; low = billed -
on-demand (the sure fix).

On a bill alone (no workload record names a billed resource), fault tolerance cannot be read
from runs, so candidates come from what the bill says of the work (``pattern: bill_tags``):
an on-demand GPU resource whose work-type tag (``workload``, ``workload_type``, ``job_type``,
``purpose``, ``role``, ``environment``/``env``, ``stage``, Kubernetes'
``app.kubernetes.io/component``, ...) or resource name says training, fine-tuning, batch,
sweep, experiment, research or dev work, and no tag value or name word says serving,
inference, endpoint, production or online work (one such word rules it out: an interrupted
endpoint drops requests). The instance family is stated, never a reason by itself (training
families serve models too). Priced as the candidates above, but the bill does not show job
durations or checkpoints: ``low`` (the dearest zone, the top of the bucket) is the worse of
checkpointing and of none, every job then as long as the resource's longest uninterrupted
stretch of billed hours (a job cannot have run longer) and restarted from scratch at each
interruption.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mlcost.insights._context import Context, HourRow
from mlcost.insights._finding import Finding, Saving, finding_id, money
from mlcost.warehouse import fetch_rows

__all__ = ["FAULT_TOLERANT_KINDS", "detect_spot", "interruptible_work", "useful_work_hours"]

FAULT_TOLERANT_KINDS = ("sweep", "batch")
CHECKPOINT_MINUTES = 5.0
RESTART_MINUTES = 10.0
ASSUMED_INTERVAL_MINUTES = 30.0  # a run that checkpoints every N steps, of unknown duration
MAX_INTERVAL_MINUTES = 30.0  # the longest checkpoint interval a candidate is told to use
MIN_MONTHLY = Decimal(100)
DEFAULT_BUCKET = "5-10%"  # where the catalog has no Spot Advisor bucket
# The monthly interruption share each Spot Advisor bucket spans (its range of uncertainty);
# ">20%" has no published top: 30 % is an assumption.
BUCKET_SHARE_RANGE: dict[str, tuple[float, float]] = {
    "<5%": (0.0, 0.05),
    "5-10%": (0.05, 0.10),
    "10-15%": (0.10, 0.15),
    "15-20%": (0.15, 0.20),
    ">20%": (0.20, 0.30),
}


# Tag keys (spelling-free: ``Workload-Type``, ``workload_type`` -> ``workloadtype``) whose value
# says what kind of work runs on a resource. Conventions, not a standard: AWS's tagging
# whitepaper names ``environment`` and workload keys, Kubernetes recommends
# ``app.kubernetes.io/component``; teams add ``job_type`` or ``purpose``.
WORK_KEYS = frozenset(
    {
        "workload",
        "workloadtype",
        "workloadkind",
        "jobtype",
        "jobkind",
        "purpose",
        "role",
        "usage",
        "environment",
        "env",
        "stage",
        "tier",
        "component",
    }
)
# Words of a work-type value or of a resource name that say an interruption costs a restart.
INTERRUPTIBLE_WORDS = frozenset(
    {
        "training",
        "train",
        "finetune",
        "finetuning",
        "batch",
        "sweep",
        "hpo",
        "experiment",
        "experiments",
        "experimental",
        "research",
        "dev",
        "development",
        "sandbox",
    }
)
# Words anywhere in the tags or the name that rule a resource out: serving and production
# work drops requests or breaks a promise when reclaimed.
NOT_INTERRUPTIBLE_WORDS = frozenset(
    {
        "serving",
        "serve",
        "server",
        "inference",
        "infer",
        "endpoint",
        "prod",
        "production",
        "prd",
        "online",
        "realtime",
        "live",
        "api",
    }
)


def _words(text: str) -> set[str]:
    """Lower-case words of a value or name (``fine-tuning`` also as ``finetuning``)."""
    import re

    parts = [w for w in re.split(r"[^0-9a-z]+", text.casefold()) if w]
    return set(parts) | {"".join(parts)}


def interruptible_work(tags: dict[str, str], name: str | None) -> tuple[str | None, str | None]:
    """(why the work is interruptible, why it is not): from a resource's work-type tags and
    name. A candidate needs a reason and no veto.

    >>> interruptible_work({"workload_type": "Training"}, "i-0abc")
    ('tag workload_type=Training', None)
    >>> interruptible_work({"env": "dev", "app.kubernetes.io/component": "inference"}, None)
    ('tag env=dev', 'tag app.kubernetes.io/component=inference')
    """
    from mlcost.attribution.tags import key_family

    why: str | None = None
    veto: str | None = None
    for key, value in sorted(tags.items()):
        words = _words(value or "")
        family = key_family(key).replace("_", "")
        if veto is None and words & NOT_INTERRUPTIBLE_WORDS:
            veto = f"tag {key}={value}"
        is_work_key = family in WORK_KEYS or family.endswith("component")
        if why is None and is_work_key and words & INTERRUPTIBLE_WORDS:
            why = f"tag {key}={value}"
    if name:
        words = _words(name)
        if veto is None and words & NOT_INTERRUPTIBLE_WORDS:
            veto = f"name {name}"
        if why is None and words & INTERRUPTIBLE_WORDS:
            why = f"name {name}"
    return why, veto


def _instance_family(instance_type: str) -> str:
    """``p4d.24xlarge`` -> ``p4d``; ``a2-highgpu-8g`` -> ``a2``; Azure ``Standard_NC24ads_A100_v4``
    -> ``NC``."""
    import re

    if "." in instance_type:
        return instance_type.split(".", 1)[0]
    if instance_type.startswith(("Standard_", "Basic_")):
        m = re.match(r"[A-Z]+", instance_type.split("_", 1)[1])
        return m.group(0) if m else instance_type
    return instance_type.split("-", 1)[0]


def _runs_linked(ctx: Context) -> bool:
    """Whether any workload record names a billed resource."""
    from mlcost.insights._run import linked_inputs

    return linked_inputs(ctx.wh).get("workloads", (0, 0))[0] > 0


def _bill_candidates(ctx: Context) -> dict[str, dict[str, Any]]:
    """Billed ResourceId -> why its tags or name say interruptible work (a bill alone)."""
    t = ctx.lines()
    t = t.filter(
        (t.ChargeCategory == "Usage")
        & t.ResourceId.notnull()
        & (t.x_GpuCount.cast("float64") > 0)
        & (t.PricingCategory == "Standard")
    )
    seen: dict[str, dict[str, Any]] = {}
    for r in fetch_rows(t.select("ResourceId", "ResourceName", "Tags").distinct()):
        cell = seen.setdefault(r["ResourceId"], {"tags": {}, "name": None})
        cell["tags"].update(r["Tags"] or {})
        cell["name"] = cell["name"] or r["ResourceName"]
    out: dict[str, dict[str, Any]] = {}
    for rid, cell in seen.items():
        name = cell["name"] or rid.rsplit("/", 1)[-1]
        why, veto = interruptible_work(cell["tags"], name)
        if why is not None and veto is None:
            out[rid] = {"name": name, "why": why, "bill_alone": True}
    return out


def _longest_stretch(rows: list[HourRow]) -> int:
    """The most consecutive billed hours (a job cannot have run longer without a stop)."""
    from datetime import timedelta
    from itertools import pairwise

    best = run = 1
    for a, b in pairwise(rows):
        run = run + 1 if b.hour - a.hour == timedelta(hours=1) else 1
        best = max(best, run)
    return best


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
    import ibis

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
    # A resource with several runs is judged by one: a checkpointing run first, then by
    # name, whatever order the engine returns the join in.
    order = ["rid", ibis.desc("checkpoint"), "name", "kind"]
    for r in fetch_rows(j, order_by=order):
        if r["checkpoint"]:
            why = "checkpoints (tracker params)"
        elif r["kind"] in FAULT_TOLERANT_KINDS:
            why = f"{r['kind']} work restarts cheaply"
        else:
            continue
        out.setdefault(r["rid"], {**r, "why": why})
    return out


def detect_spot(ctx: Context) -> list[Finding]:
    """On-demand GPU resources running fault-tolerant work, priced on spot by the planner;
    and spot resources whose interruptions make them cost more than on-demand."""
    out = []
    linked = _runs_linked(ctx)
    candidates = _candidates(ctx) if linked else _bill_candidates(ctx)
    for rid, run in sorted(candidates.items()):
        rows = [r for r in ctx.gpu_hours.get(rid, []) if r.pricing == "Standard"]
        if not rows or not rows[0].instance_type:
            continue
        f = _finding(ctx, rid, run, rows)
        if f is not None:
            out.append(f)
    for rid, run in sorted(_spot_runs(ctx).items()):
        rows = [r for r in ctx.gpu_hours.get(rid, []) if r.pricing == "Dynamic"]
        if rows and rows[0].instance_type:
            f = _losing(ctx, rid, run, rows)
            if f is not None:
                out.append(f)
    return out


def _spot_runs(ctx: Context) -> dict[str, dict[str, Any]]:
    """Billed ResourceId -> the run on it, with its checkpoint and interruption parameters."""
    w = ctx.wh.table("workloads")
    links = ctx.wh.table("resource_links")
    j = w.join(links, w.resource_id.fill_null(w.node) == links.name)
    j = j.select(
        rid=j.billed_resource_id,
        name=j.name,
        start=j.start,
        end=j["end"],
        params=j.params,
    )
    out: dict[str, dict[str, Any]] = {}
    for r in fetch_rows(j, order_by=["rid", "start", "name"]):  # the earliest run per resource
        r["params"] = r["params"] or {}
        out.setdefault(r["rid"], r)
    return out


def _interval_minutes(params: dict[str, str]) -> tuple[float | None, str]:
    """The run's checkpoint interval in minutes (None: it does not checkpoint) and its basis."""
    if params.get("checkpoint_minutes"):
        return float(params["checkpoint_minutes"]), "checkpoint_minutes"
    if params.get("checkpoint_seconds"):
        return float(params["checkpoint_seconds"]) / 60, "checkpoint_seconds"
    if any("checkpoint" in k.lower() for k in params):
        return ASSUMED_INTERVAL_MINUTES, f"assumed {ASSUMED_INTERVAL_MINUTES:.0f} min (by steps)"
    return None, "no checkpoint parameter: an interruption restarts the run"


def useful_work_hours(
    wall: float, interval: float | None, c: float, r: float, rate: float
) -> float:
    """Hours of work ``W`` whose expected spot wall time is ``wall`` (bisection).

    ``interval`` (hours of work between checkpoints; None: no checkpoints), checkpoint ``c`` and
    restart ``r`` hours, ``rate`` interruptions per hour.

    >>> round(useful_work_hours(10.0, None, 0.0, 0.0, 0.0), 6)  # no interruptions
    10.0
    """
    import math

    from mlcost.plan.spot import expected_hours

    mtbi = 1 / rate if rate > 0 else math.inf

    def wall_of(w: float) -> float:
        return expected_hours(w, min(interval or w, w), c if interval else 0.0, r, mtbi)

    lo, hi = 0.0, wall
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if wall_of(mid) <= wall else (lo, mid)
    return lo


def _ondemand_price(instance_type: str, region: str | None) -> float | None:
    from mlcost.catalog import offers

    found = [o for o in offers() if o.instance_type == instance_type and o.ondemand_usd_per_hour]
    here = [o for o in found if o.region == region] or found
    return min((o.ondemand_usd_per_hour or 0.0 for o in here), default=None)


def _losing(ctx: Context, rid: str, run: dict[str, Any], rows: list[HourRow]) -> Finding | None:
    from mlcost.plan.spot import plan_spot, rate_from_bucket

    first = rows[0]
    assert first.instance_type is not None
    od_price = _ondemand_price(first.instance_type, first.region)
    offer = _spot_offer(first.instance_type, first.region)
    if od_price is None:
        return None
    hours = len(rows)
    billed = sum((r.cost for r in rows), Decimal(0))
    spot_price = float(billed) / hours
    params = run["params"]
    if params.get("interruptions") is not None:
        count = float(params["interruptions"])
        rate, rate_basis = count / hours, f"{count:.0f} interruptions in {hours} billed hours"
    else:
        bucket = offer[1] if offer else "5-10%"
        rate, rate_basis = rate_from_bucket(bucket), f"Spot Advisor bucket {bucket}"
    minutes, interval_basis = _interval_minutes(params)
    c, r = CHECKPOINT_MINUTES / 60, RESTART_MINUTES / 60
    work = useful_work_hours(float(hours), None if minutes is None else minutes / 60, c, r, rate)
    od_cost = work * od_price
    if float(billed) <= od_cost or work <= 0:
        return None
    best = plan_spot(
        work_hours=work,
        ondemand_usd_per_hour=od_price,
        spot_usd_per_hour=spot_price,
        interruptions_per_hour=max(rate, 1e-9),
        checkpoint_minutes=CHECKPOINT_MINUTES,
        restart_minutes=RESTART_MINUTES,
    )
    if best.spot_cost < od_cost:
        fix_cost = best.spot_cost
        every = max(1, round(best.checkpoint_interval_hours * 60))
        action = (
            f"checkpoint {run['name']} ({first.instance_type}, spot) every {every} min: "
            f"its interruptions ({rate_basis}) cost more than the spot discount"
        )
    else:
        fix_cost = od_cost
        action = (
            f"run {run['name']} ({first.instance_type}) on on-demand: at {rate_basis} spot "
            "costs more than on-demand even with optimal checkpoints"
        )
    waste = billed - Decimal(str(fix_cost))
    expected = ctx.monthly(waste)
    if expected < MIN_MONTHLY:
        return None
    return Finding(
        id=finding_id("spot", rid, "loses_money"),
        kind="spot",
        resource_id=rid,
        owner=first.owner,
        monthly_saving=Saving(ctx.monthly(billed - Decimal(str(od_cost))), expected, expected),
        confidence=0.7,
        action=action,
        evidence={
            "pattern": "loses_money",
            "run": run["name"],
            "instance_type": first.instance_type,
            "region": first.region,
            "spot_hours": hours,
            "spot_cost": float(money(billed)),
            "spot_usd_per_hour": round(spot_price, 6),
            "interruptions_per_hour": round(rate, 6),
            "interruption_basis": rate_basis,
            "checkpoint_interval_minutes": None if minutes is None else round(minutes, 3),
            "checkpoint_interval_basis": interval_basis,
            "checkpoint_minutes": CHECKPOINT_MINUTES,
            "restart_minutes": RESTART_MINUTES,
            "useful_work_hours": round(work, 4),
            "on_demand_usd_per_hour": od_price,
            "on_demand_cost": round(od_cost, 2),
            "optimal_checkpoint_minutes": round(best.checkpoint_interval_hours * 60, 2),
            "spot_cost_optimal_checkpoints": round(best.spot_cost, 2),
            "fix_cost": round(fix_cost, 2),
            **ctx.scaling(
                waste,
                "(spot_cost - min(on_demand_cost, spot_cost_optimal_checkpoints))"
                " x monthly_factor; on_demand_cost = useful_work_hours x on_demand_usd_per_hour",
            ),
        },
    )


def _region_spot(instance_type: str, region: str | None) -> dict[str, Any] | None:
    """The spot prices of ``instance_type`` over the zones of ``region`` (the workload's own
    region; None: no zone there has a spot price) and the region's interruption bucket.

    The bill's zone cannot pick the catalog's zone (AWS maps zone names to zone ids per
    account), so the saving is read from the spread: median of the zones, dearest, cheapest.
    """
    import statistics

    from mlcost.catalog import offers

    here = [
        o
        for o in offers()
        if o.instance_type == instance_type and o.region == region and o.spot_usd_per_hour
    ]
    if not here:
        return None
    zones = {o.zone or o.region: float(o.spot_usd_per_hour or 0.0) for o in here}
    buckets = [o.interruption for o in here if o.interruption in BUCKET_SHARE_RANGE]
    bucket = statistics.mode(buckets) if buckets else DEFAULT_BUCKET
    prices = sorted(zones.values())
    return {
        "zones": dict(sorted(zones.items())),
        "median": statistics.median(prices),
        "dearest": prices[-1],
        "cheapest": prices[0],
        "bucket": bucket,
        "bucket_source": "catalog Spot Advisor bucket" if buckets else "none in the catalog",
    }


def _rate(share: float) -> float:
    """Interruptions per instance-hour for a monthly interruption share."""
    import math

    from mlcost.plan.spot import HOURS_PER_MONTH

    return -math.log(1 - share) / HOURS_PER_MONTH


def _finding(ctx: Context, rid: str, run: dict[str, Any], rows: list[HourRow]) -> Finding | None:
    from mlcost.plan.spot import BUCKET_MONTHLY_SHARE, daly_interval, plan_spot

    first = rows[0]
    assert first.instance_type is not None
    spot = _region_spot(first.instance_type, first.region)
    if spot is None:
        return None
    bucket = spot["bucket"]
    lo_share, hi_share = BUCKET_SHARE_RANGE[bucket]
    rate_mid = _rate(BUCKET_MONTHLY_SHARE[bucket])
    hours = len(rows)
    cost = sum((r.cost for r in rows), Decimal(0))
    od_price = float(cost) / hours
    if od_price <= 0:  # hours a credit or an amortized discount zeroed: nothing to save
        return None
    c = CHECKPOINT_MINUTES / 60
    # One checkpoint interval for the text and the money: Daly's optimum at the bucket's
    # rate, capped at 30 minutes (the optimum is often longer than the run; the cap bounds
    # the work an interruption loses).
    interval = min(MAX_INTERVAL_MINUTES / 60, daly_interval(c, 1 / rate_mid))

    def plan(price: float, rate: float) -> Any:
        return plan_spot(
            work_hours=float(hours),
            ondemand_usd_per_hour=od_price,
            spot_usd_per_hour=price,
            interruptions_per_hour=max(rate, 1e-9),
            checkpoint_minutes=CHECKPOINT_MINUTES,
            restart_minutes=RESTART_MINUTES,
            interval_hours=interval,
        )

    # expected: the region's median zone price at the bucket's middle; low: the dearest zone
    # at the top of the bucket; high: the cheapest zone at its bottom.
    mid = plan(spot["median"], rate_mid)
    bill_alone = bool(run.get("bill_alone"))
    if bill_alone:
        # No job durations or checkpoints known: low is the worse of checkpointing (its
        # overhead) and of not checkpointing, every job as long as the longest uninterrupted
        # stretch of billed hours and restarted from scratch when reclaimed.
        stretch = _longest_stretch(rows)
        restart = plan_spot(
            work_hours=float(hours),
            ondemand_usd_per_hour=od_price,
            spot_usd_per_hour=spot["dearest"],
            interruptions_per_hour=max(_rate(hi_share), 1e-9),
            checkpoint_minutes=0.0,
            restart_minutes=RESTART_MINUTES,
            interval_hours=float(stretch),
        )
        worst = min(plan(spot["dearest"], _rate(hi_share)), restart, key=lambda p: p.saving)
    else:
        worst = plan(spot["dearest"], _rate(hi_share))
    best = plan(spot["cheapest"], _rate(lo_share))
    if not mid.worth_it:
        return None
    expected = ctx.monthly(Decimal(str(mid.saving)))
    if expected < MIN_MONTHLY:
        return None
    every = max(1, round(interval * 60))
    if bill_alone:
        action = (
            f"check {run['name']} ({first.instance_type}, on-demand): its {run['why']} says "
            f"interruptible work; if its jobs checkpoint or restart cheaply, run them on spot "
            f"with checkpoints every {every} min (judged from the bill alone: no job durations "
            "or checkpoints known; load its workload records to confirm)"
        )
        extra: dict[str, Any] = {
            "pattern": "bill_tags",
            "basis": "bill alone: no workload record names this resource, so no job "
            "durations or checkpoints are known; a candidate by its tags or name",
            "instance_family": _instance_family(first.instance_type),
            "instance_family_basis": "stated, not a reason by itself (training families "
            "also serve models)",
            "longest_uninterrupted_hours": stretch,
            "low_basis": "the dearest zone at the top of the interruption bucket, the worse "
            "of checkpoints every checkpoint_interval_minutes and none (every job as long as "
            "longest_uninterrupted_hours, restarted from scratch at each interruption)",
            "low_without_checkpoints_spot_cost": round(restart.spot_cost, 2),
        }
    else:
        action = (
            f"run {run['name']} ({first.instance_type}) on spot with checkpoints every "
            f"{every} min: it {run['why']}"
        )
        extra = {}
    return Finding(
        id=finding_id("spot", rid),
        kind="spot",
        resource_id=rid,
        owner=first.owner,
        monthly_saving=Saving(
            ctx.monthly(Decimal(str(max(worst.saving, 0.0)))),
            expected,
            ctx.monthly(Decimal(str(max(best.saving, mid.saving)))),
        ),
        confidence=0.5 if bill_alone else 0.8,
        action=action,
        evidence={
            **extra,
            "run": None if bill_alone else run["name"],
            "why": run["why"],
            "instance_type": first.instance_type,
            "region": first.region,
            "on_demand_hours": hours,
            "on_demand_cost": float(money(cost)),
            "on_demand_usd_per_hour": round(od_price, 6),
            "spot_usd_per_hour": round(spot["median"], 6),
            "spot_price_basis": f"median of the spot prices of the {len(spot['zones'])} "
            f"zone(s) of {first.region} in the catalog (the bill's zone name does not say "
            "which zone id it is); low at the dearest zone, high at the cheapest",
            "zone_spot_usd_per_hour": spot["zones"],
            "spot_usd_per_hour_range": [spot["cheapest"], spot["dearest"]],
            "interruption_bucket": bucket,
            "interruption_bucket_source": spot["bucket_source"],
            "interruptions_per_hour": round(mid.interruptions_per_hour, 6),
            "interruptions_per_hour_range": [round(_rate(lo_share), 6), round(_rate(hi_share), 6)],
            "interruption_monthly_share_range": [lo_share, hi_share],
            "checkpoint_interval_minutes": every,
            "spot_wall_hours": round(mid.spot_wall_hours, 3),
            "spot_cost": round(mid.spot_cost, 2),
            "checkpoint_minutes": CHECKPOINT_MINUTES,
            "restart_minutes": RESTART_MINUTES,
            **ctx.scaling(
                Decimal(str(mid.saving)),
                "(on_demand_cost - spot_wall_hours x spot_usd_per_hour) x monthly_factor; "
                "spot_wall_hours at checkpoint_interval_minutes",
            ),
        },
    )
