"""Data transfer (``data_transfer``): between regions, and out to the internet.

Networking charges (FOCUS ServiceCategory ``Networking``) whose description says transfer.

- **Between regions** (the description does not say internet): one finding per resource that
  sends them, with the region pair read from the charge (RegionId is the sending region; the
  description names the receiving one). Saving: the transfer cost, expected all of it (read
  the data where it is computed, or keep a copy there); low is half of it (a replica costs
  storage).
- **Internet egress** (the description says internet): serving traffic is a normal cost, so it
  is a finding only when it dominates its workload: the egress of a resource is at least
  ``EGRESS_SHARE`` of everything its owner spent in the window (the whole bill for resources
  with no owner). Pair: RegionId -> ``internet``. Saving: ``EGRESS_SAVING`` of the egress
  (compressing responses, caching at a CDN, keeping consumers in the cloud); low
  ``EGRESS_SAVING_LOW``, high ``EGRESS_SAVING_HIGH`` (an assumption, written in the evidence).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money

__all__ = ["detect_transfer"]

MIN_MONTHLY = Decimal(100)
EGRESS_SHARE = 0.25
EGRESS_SAVING = Decimal("0.4")
EGRESS_SAVING_LOW = Decimal("0.2")
EGRESS_SAVING_HIGH = Decimal("0.7")


def detect_transfer(ctx: Context) -> list[Finding]:
    """One finding per resource paying for transfer between regions or dominant egress."""
    return _cross_region(ctx) + _internet_egress(ctx)


def _transfers(ctx: Context, internet: bool) -> list[dict[str, Any]]:
    """Transfer charges per resource, region and description, with their owner."""
    t = ctx.lines()
    says_internet = t.ChargeDescription.lower().contains("internet")
    t = t.filter(
        (t.ServiceCategory == "Networking")
        & (says_internet if internet else ~says_internet)
        & t.ChargeDescription.lower().contains("transfer")
    )
    g = t.group_by(
        resource=t.ResourceId,
        region=t.RegionId,
        description=t.ChargeDescription,
    ).aggregate(
        cost=t.EffectiveCost.sum(),
        quantity=t.ConsumedQuantity.sum(),
        unit=t.ConsumedUnit.max(),
        owner=t.owner.max(),
        days=t.ChargePeriodStart.truncate("D").nunique(),
    )
    rows: list[dict[str, Any]] = g.to_pyarrow().to_pylist()
    return rows


def _cross_region(ctx: Context) -> list[Finding]:
    out = []
    for r in _transfers(ctx, internet=False):
        waste = Decimal(str(r["cost"] or 0))
        expected = ctx.monthly(waste)
        if expected < MIN_MONTHLY:
            continue
        desc = r["description"] or ""
        to = desc.split(" to ", 1)[1] if " to " in desc else "another region"
        unit_price = waste / Decimal(str(r["quantity"])) if r["quantity"] else None
        out.append(
            Finding(
                id=finding_id("data_transfer", r["resource"], r["region"], desc),
                kind="data_transfer",
                resource_id=r["resource"],
                owner=r["owner"],
                monthly_saving=Saving(money(expected / 2), expected, expected),
                confidence=0.8,
                action=f"stop reading {r['resource']} across regions ({r['region']} -> {to}): "
                "run the jobs in its region or keep a copy of the data where they run",
                evidence={
                    "rule": "Networking charges that are not internet egress",
                    "from_region": r["region"],
                    "to": to,
                    "description": desc,
                    "quantity": float(r["quantity"] or 0),
                    "unit": r["unit"],
                    "unit_price": float(unit_price) if unit_price is not None else None,
                    "days_charged": int(r["days"]),
                    **ctx.scaling(
                        waste,
                        "window_waste x monthly_factor",
                    ),
                },
            )
        )
    return out


def _internet_egress(ctx: Context) -> list[Finding]:
    rows = _transfers(ctx, internet=True)
    if not rows:
        return []
    t = ctx.lines()
    spent = {
        r["owner"]: Decimal(str(r["cost"] or 0))
        for r in t.group_by("owner").aggregate(cost=t.EffectiveCost.sum()).to_pyarrow().to_pylist()
    }
    whole_bill = sum(spent.values(), Decimal(0))
    out = []
    for r in rows:
        egress = Decimal(str(r["cost"] or 0))
        workload = spent.get(r["owner"], Decimal(0)) if r["owner"] is not None else whole_bill
        share = float(egress / workload) if workload > 0 else 0.0
        expected = ctx.monthly(egress * EGRESS_SAVING)
        if share < EGRESS_SHARE or expected < MIN_MONTHLY:
            continue
        desc = r["description"] or ""
        scope = f"owner {r['owner']}" if r["owner"] is not None else "the whole bill"
        out.append(
            Finding(
                id=finding_id("data_transfer", r["resource"], r["region"], desc),
                kind="data_transfer",
                resource_id=r["resource"],
                owner=r["owner"],
                monthly_saving=Saving(
                    ctx.monthly(egress * EGRESS_SAVING_LOW),
                    expected,
                    ctx.monthly(egress * EGRESS_SAVING_HIGH),
                ),
                confidence=0.5,
                action=f"cut internet egress of {r['resource']} ({r['region']} -> internet, "
                f"{share:.0%} of {scope}'s spend): compress responses, cache them at a CDN, "
                "or move the consumers into the cloud region",
                evidence={
                    "rule": f"internet egress >= {EGRESS_SHARE:.0%} of its owner's spend "
                    "(the whole bill when it has no owner)",
                    "from_region": r["region"],
                    "to": "internet",
                    "description": desc,
                    "quantity": float(r["quantity"] or 0),
                    "unit": r["unit"],
                    "days_charged": int(r["days"]),
                    "egress_cost": float(money(egress)),
                    "workload_cost": float(money(workload)),
                    "egress_share": round(share, 4),
                    "saving_share": float(EGRESS_SAVING),
                    "saving_share_source": "assumption: compression and CDN caching remove "
                    "about 40 % of egress bytes (20-70 % by content type)",
                    **ctx.scaling(
                        egress * EGRESS_SAVING,
                        "egress_cost x saving_share x monthly_factor",
                    ),
                },
            )
        )
    return out
