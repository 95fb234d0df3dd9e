"""Commitments (``commitment``): the level to reserve, and commitments that go unused.

Three findings, told apart by ``evidence.pattern``:

- ``buy``: the hourly baseline of steady on-demand compute. For each pool (provider, region,
  instance type: what a reserved instance or resource-based commitment covers), the number of
  resources billed on-demand (PricingCategory ``Standard``) in every hour of the window, hours
  with none counting 0. For each candidate level ``L`` (0 .. the peak),
  ``cost(L) = L x hours x committed_rate + sum over hours of max(n_h - L, 0) x on_demand_rate``
  (the commitment is paid whether used or not, the excess stays on-demand); the level with the
  lowest cost wins (coverage versus utilization: a level pays while it is used in more than
  ``committed_rate / on_demand_rate`` of the hours). The on-demand rate is what the bill
  charged per resource-hour; the committed rate is that times the catalog's
  ``reserved_1y / on-demand`` ratio for the instance type (same region, else any), else
  ``1 - DISCOUNTS[provider]`` (the table below, with its source). Saving: ``cost(0) -
  cost(L*)``; low: the same at the level used in at least ``LOW_COVERAGE`` of the hours (a
  commitment that stays full if usage shrinks).

  A baseline that will still be there: a pool needs at least ``Context.commitment_lookback_days``
  of history (30 by default; the window's usage-based charges, stated in the evidence), else
  no level is recommended. The level is read from the most recent look-back only (the recent
  steady baseline), and from usage that is still running: each hour's count is capped at the
  pool's resources billed in the window's last ``END_SPAN_HOURS`` hours, so a resource that
  stopped inside the window (usage that has ended) earns no commitment and no level exceeds
  what still runs at the window's end.
- ``unused``: line items of a commitment discount (CommitmentDiscountId) with
  CommitmentDiscountStatus ``Unused`` are money paid for nothing. A commitment used below
  ``MIN_UTILIZATION`` (used / (used + unused) EffectiveCost) is a finding; saving: the unused
  cost (move matching on-demand work onto it, or exchange / sell it); low: half of it.
- ``contract_shortfall``: a FOCUS ContractCommitment (``contract_commitments``) whose applied
  cost (the cost rows' ContractApplied ``ContractCommitmentAppliedCost``) runs below its pace:
  applied / (commitment x the share of its period that has elapsed) < ``MIN_UTILIZATION``.
  The projected shortfall at the period end is paid for nothing; saving: that shortfall spread
  over the period's months (x 30 / period days), low: half.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money

__all__ = ["DISCOUNTS", "best_level", "detect_commitments"]

MIN_MONTHLY = Decimal(100)
END_SPAN_HOURS = 24  # "still running at the window's end": billed in its last day
MIN_UTILIZATION = 0.9
LOW_COVERAGE = 0.95
# 1-year commitment discounts off on-demand where the catalog has no reserved price.
DISCOUNTS: dict[str, tuple[float, str]] = {
    "aws": (0.37, "median reserved_1y / on-demand of the packaged AWS GPU catalog (2026)"),
    "google cloud": (
        0.37,
        "Google Cloud resource-based committed use discounts, 1 year: 37 % "
        "(cloud.google.com/compute/docs/instances/committed-use-discounts-overview)",
    ),
    "microsoft": (0.36, "assumption: Azure 1-year reserved VM instances, about 36 % off"),
}
DEFAULT_DISCOUNT = (0.3, "assumption: a 1-year commitment at 30 % off on-demand")


def best_level(counts: list[int], od_rate: float, committed_rate: float) -> tuple[int, float]:
    """The commitment level with the lowest cost over the hourly counts, and that cost.

    >>> best_level([2, 2, 2, 0], od_rate=1.0, committed_rate=0.6)  # used 3 of 4 hours
    (2, 4.8)
    >>> best_level([2, 0, 0, 0], od_rate=1.0, committed_rate=0.6)  # used 1 of 4: stay
    (0, 2.0)
    """
    best = (0, _cost(counts, 0, od_rate, committed_rate))
    for level in range(1, max(counts, default=0) + 1):
        cost = _cost(counts, level, od_rate, committed_rate)
        if cost < best[1] - 1e-9:
            best = (level, cost)
    return best[0], round(best[1], 6)


def _cost(counts: list[int], level: int, od: float, committed: float) -> float:
    return level * len(counts) * committed + sum(max(n - level, 0) for n in counts) * od


def detect_commitments(ctx: Context) -> list[Finding]:
    """Commitment levels worth buying, under-used commitments and contracts behind pace."""
    return _buy(ctx) + _unused(ctx) + _contracts(ctx)


def _committed_ratio(provider: str | None, instance: str, region: str | None) -> tuple[float, str]:
    from mlcost.catalog import offers

    found = [
        o
        for o in offers()
        if o.instance_type == instance and o.reserved_1y_usd_per_hour and o.ondemand_usd_per_hour
    ]
    here = [o for o in found if o.region == region] or found
    if here:
        o = here[0]
        assert o.reserved_1y_usd_per_hour and o.ondemand_usd_per_hour
        where = ", ".join(filter(None, (o.region, o.price_date)))
        return (
            o.reserved_1y_usd_per_hour / o.ondemand_usd_per_hour,
            f"catalog reserved_1y {o.reserved_1y_usd_per_hour} / on-demand "
            f"{o.ondemand_usd_per_hour} USD/h ({where})",
        )
    key = (provider or "").lower()
    discount, source = next(
        (v for k, v in DISCOUNTS.items() if key.startswith(k.split()[0])), DEFAULT_DISCOUNT
    )
    return 1 - discount, f"{discount:.0%} off: {source}"


def _buy(ctx: Context) -> list[Finding]:
    t = ctx.lines()
    t = t.filter(
        (t.ChargeCategory == "Usage")
        & (t.ServiceCategory == "Compute")
        & (t.PricingCategory == "Standard")
        & t.x_InstanceType.notnull()
        & t.ResourceId.notnull()
    )
    g = t.group_by(
        provider=t.ServiceProviderName,
        region=t.RegionId,
        instance=t.x_InstanceType,
        hour=t.ChargePeriodStart.truncate("h"),
    ).aggregate(n=t.ResourceId.nunique(), cost=t.EffectiveCost.sum(), owner=t.owner.max())
    pools: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in g.to_pyarrow().to_pylist():
        pools.setdefault((r["provider"], r["region"], r["instance"]), []).append(r)
    # The billed resources whose on-demand hours a commitment of each pool would cover.
    members = t.select(
        provider=t.ServiceProviderName,
        region=t.RegionId,
        instance=t.x_InstanceType,
        rid=t.ResourceId,
    ).distinct()
    covered: dict[tuple[str, str, str], list[str]] = {}
    for r in members.order_by("rid").to_pyarrow().to_pylist():
        covered.setdefault((r["provider"], r["region"], r["instance"]), []).append(r["rid"])
    a, b = ctx.window
    history_days = (b - a).total_seconds() / 86400
    if history_days < ctx.commitment_lookback_days:
        return []  # too little history to bet a year on
    recent = max(a, b - timedelta(days=ctx.commitment_lookback_days))
    first = recent.replace(minute=0, second=0, microsecond=0)
    n_hours = max(1, math.ceil((b - first).total_seconds() / 3600))
    out = []
    for (provider, region, instance), rows in sorted(pools.items(), key=lambda kv: str(kv[0])):
        by_hour = {r["hour"]: int(r["n"]) for r in rows}
        seen = [by_hour.get(first + timedelta(hours=i), 0) for i in range(n_hours)]
        at_end = max(seen[-END_SPAN_HOURS:])
        counts = [min(n, at_end) for n in seen]
        recent_rows = [r for r in rows if r["hour"] >= first]
        cost = sum((Decimal(str(r["cost"])) for r in recent_rows), Decimal(0))
        od = float(cost) / max(sum(seen), 1)
        ratio, rate_source = _committed_ratio(provider, instance, region)
        committed = od * ratio
        level, best = best_level(counts, od, committed)
        if level == 0:
            continue
        base = _cost(counts, 0, od, committed)
        waste = Decimal(str(base - best))
        expected = ctx.monthly(waste, days=n_hours / 24)
        if expected < MIN_MONTHLY:
            continue
        ranked = sorted(counts, reverse=True)
        low_level = min(level, ranked[min(len(ranked) - 1, math.ceil(LOW_COVERAGE * n_hours) - 1)])
        low = Decimal(str(base - _cost(counts, low_level, od, committed)))
        used = sum(min(n, level) for n in counts)
        owners = sorted({r["owner"] for r in rows if r["owner"]})
        levels = sorted({0, low_level, level, *range(1, max(counts) + 1)})[:12]
        out.append(
            Finding(
                id=finding_id("commitment", provider, region, instance, "buy"),
                kind="commitment",
                resource_id=None,
                resource_ids=tuple(covered.get((provider, region, instance), ())),
                owner=owners[0] if len(owners) == 1 else None,
                monthly_saving=Saving(
                    ctx.monthly(max(low, Decimal(0)), days=n_hours / 24), expected, expected
                ),
                confidence=0.6,
                action=f"commit to {level} x {instance} in {region} for 1 year (reserved "
                f"instances / committed use): {used / (level * n_hours):.0%} used, covering "
                f"{used / max(sum(counts), 1):.0%} of its on-demand hours",
                evidence={
                    "pattern": "buy",
                    "rule": "level L minimizing L x hours x committed_rate + sum(max(n_h - L, "
                    "0)) x on_demand_rate over the look-back's hours, n_h capped at the "
                    "resources still running at the window's end",
                    "lookback_days": ctx.commitment_lookback_days,
                    "history_days": round(history_days, 4),
                    "lookback_start": f"{first:%Y-%m-%dT%H:%MZ}",
                    "running_at_end": at_end,
                    "end_span_hours": END_SPAN_HOURS,
                    "ended_resource_hours": sum(seen) - sum(counts),
                    "provider": provider,
                    "region": region,
                    "instance_type": instance,
                    "owners": owners,
                    "hours": n_hours,
                    "resource_hours": sum(counts),
                    "peak": max(counts),
                    "on_demand_rate": round(od, 6),
                    "committed_rate": round(committed, 6),
                    "committed_rate_source": rate_source,
                    "level": level,
                    "utilization": round(used / (level * n_hours), 4),
                    "coverage": round(used / max(sum(counts), 1), 4),
                    "cost_on_demand": round(base, 2),
                    "cost_at_level": round(best, 2),
                    "low_level": low_level,
                    "levels": [
                        {"level": lv, "cost": round(_cost(counts, lv, od, committed), 2)}
                        for lv in levels
                    ],
                    **ctx.scaling(
                        waste,
                        "(cost_on_demand - cost_at_level) x monthly_factor",
                        days=n_hours / 24,
                    ),
                },
            )
        )
    return out


def _unused(ctx: Context) -> list[Finding]:
    t = ctx.lines()
    t = t.filter(t.CommitmentDiscountId.notnull() & t.CommitmentDiscountStatus.notnull())
    unused = t.CommitmentDiscountStatus == "Unused"
    g = t.group_by(cid=t.CommitmentDiscountId).aggregate(
        name=t.CommitmentDiscountName.max(),
        kind=t.CommitmentDiscountType.max(),
        region=t.RegionId.max(),
        used=unused.ifelse(0, t.EffectiveCost).sum(),
        unused=unused.ifelse(t.EffectiveCost, 0).sum(),
        unused_hours=unused.ifelse(1, 0).sum(),
    )
    out = []
    for r in g.to_pyarrow().to_pylist():
        used, waste = Decimal(str(r["used"] or 0)), Decimal(str(r["unused"] or 0))
        total = used + waste
        if total <= 0:
            continue
        utilization = float(used / total)
        expected = ctx.monthly(waste)
        if utilization >= MIN_UTILIZATION or expected < MIN_MONTHLY:
            continue
        out.append(
            Finding(
                id=finding_id("commitment", r["cid"], "unused"),
                kind="commitment",
                resource_id=r["cid"],
                owner=None,
                monthly_saving=Saving(money(expected / 2), expected, expected),
                confidence=0.7,
                action=f"fill or exchange {r['name'] or r['cid']}: {utilization:.0%} used; move "
                "matching on-demand work onto it, or exchange / sell the unused part",
                evidence={
                    "pattern": "unused",
                    "rule": f"used / (used + unused) EffectiveCost < {MIN_UTILIZATION:.0%}",
                    "commitment": r["name"],
                    "commitment_type": r["kind"],
                    "region": r["region"],
                    "used_cost": float(money(used)),
                    "unused_cost": float(money(waste)),
                    "unused_rows": int(r["unused_hours"]),
                    "utilization": round(utilization, 4),
                    **ctx.scaling(
                        waste,
                        "unused_cost x monthly_factor",
                    ),
                },
            )
        )
    return out


def _applied(ctx: Context) -> dict[str, Decimal]:
    """ContractCommitmentId -> the cost the window's rows applied to it (ContractApplied)."""
    t = ctx.lines()
    t = t.filter(t.ContractApplied.notnull()).select(applied=t.ContractApplied.cast("string"))
    out: dict[str, Decimal] = {}
    for r in t.to_pyarrow().to_pylist():
        value = json.loads(r["applied"])
        items = value.get("ContractApplied", value) if isinstance(value, dict) else value
        for item in items if isinstance(items, list) else [items]:
            cid = item.get("ContractCommitmentID") or item.get("ContractCommitmentId")
            cost = item.get("ContractCommitmentAppliedCost")
            if cid is not None and cost is not None:
                out[str(cid)] = out.get(str(cid), Decimal(0)) + Decimal(str(cost))
    return out


def _contracts(ctx: Context) -> list[Finding]:
    c = ctx.wh.table("contract_commitments")
    c = c.filter(c.ContractCommitmentCost.notnull() & c.ContractCommitmentPeriodStart.notnull())
    rows = c.to_pyarrow().to_pylist()
    if not rows:
        return []
    applied = _applied(ctx)
    _, now = ctx.window
    out = []
    for r in rows:
        start: datetime = r["ContractCommitmentPeriodStart"]
        end: datetime = r["ContractCommitmentPeriodEnd"] or r["ContractPeriodEnd"]
        if end is None or now <= start:
            continue
        period_days = (end - start).total_seconds() / 86400
        elapsed = min(1.0, (now - start).total_seconds() / 86400 / period_days)
        committed = Decimal(str(r["ContractCommitmentCost"]))
        got = applied.get(str(r["ContractCommitmentId"]), Decimal(0))
        pace = float(got) / (float(committed) * elapsed) if committed else 1.0
        shortfall = committed - got / Decimal(str(elapsed))
        monthly = money(shortfall * Decimal(30) / Decimal(str(round(period_days, 6))))
        if pace >= MIN_UTILIZATION or monthly < MIN_MONTHLY:
            continue
        currency = r["BillingCurrency"] or "USD"
        out.append(
            Finding(
                id=finding_id("commitment", r["ContractCommitmentId"], "contract"),
                kind="commitment",
                resource_id=None,
                owner=None,
                monthly_saving=Saving(money(monthly / 2), monthly, monthly, currency),
                confidence=0.5,
                action=f"contract commitment {r['ContractCommitmentId']} is at {pace:.0%} of "
                f"its pace: route eligible spend through it before {end:%Y-%m-%d} or "
                "renegotiate it",
                evidence={
                    "pattern": "contract_shortfall",
                    "rule": f"applied / (commitment x elapsed share) < {MIN_UTILIZATION:.0%}",
                    "contract": r["ContractId"],
                    "description": r["ContractCommitmentDescription"],
                    "commitment_cost": float(money(committed)),
                    "period_start": f"{start:%Y-%m-%d}",
                    "period_end": f"{end:%Y-%m-%d}",
                    "elapsed_share": round(elapsed, 6),
                    "applied_cost": float(money(got)),
                    "pace": round(pace, 4),
                    "projected_shortfall": float(money(shortfall)),
                    "period_days": round(period_days, 4),
                    "window_waste": float(money(shortfall)),
                    "saving_formula": "(commitment_cost - applied_cost / elapsed_share) x 30 / "
                    "period_days",
                },
            )
        )
    return out
