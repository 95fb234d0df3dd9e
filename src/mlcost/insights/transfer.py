"""Data transfer between regions (``data_transfer``).

Networking charges (FOCUS ServiceCategory ``Networking``) whose description is not internet
egress are transfers between regions or zones. One finding per resource that sends them, with
the region pair read from the charge (RegionId is the sending region; the description names
the receiving one). Saving: the transfer cost, expected all of it (read the data where it is
computed, or keep a copy there); low is half of it (a replica costs storage).
"""

from __future__ import annotations

from decimal import Decimal

from mlcost.insights._data import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money

__all__ = ["detect_transfer"]

MIN_MONTHLY = Decimal(100)


def detect_transfer(ctx: Context) -> list[Finding]:
    """One finding per resource paying for transfer between regions."""
    t = ctx.lines()
    t = t.filter(
        (t.ServiceCategory == "Networking")
        & ~t.ChargeDescription.lower().contains("internet")
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
    out = []
    for r in g.to_pyarrow().to_pylist():
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
                    "window_waste": float(money(waste)),
                    "window_days": round(ctx.days, 4),
                    "monthly_factor": ctx.monthly_factor,
                    "saving_formula": "window_waste x monthly_factor",
                },
            )
        )
    return out
