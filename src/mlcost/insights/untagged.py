"""Untagged share: the money no owner tag reaches (``untagged``).

One finding for the window: rows whose Tags carry no spelling of the owner key (``team``,
``Team``, ``team_name`` ... as learned by attribution). It saves nothing by itself, so its
``monthly_saving`` is 0; ``evidence.window_waste`` is the unattributed money and the largest
untagged resources say where tagging pays first.
"""

from __future__ import annotations

from decimal import Decimal

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money
from mlcost.warehouse import fetch_rows

__all__ = ["MIN_SHARE", "detect_untagged"]

MIN_SHARE = 0.02  # below 2 % of the bill, untagged money is not worth a finding


def detect_untagged(ctx: Context) -> list[Finding]:
    """The share of EffectiveCost with no owner tag, and its largest resources."""
    t = ctx.lines()
    total = t.EffectiveCost.sum().execute()
    if total is None or Decimal(str(total)) <= 0:
        return []
    u = t.filter(t.owner.isnull())
    untagged = Decimal(str(u.EffectiveCost.sum().execute() or 0))
    share = float(untagged / Decimal(str(total)))
    if share < MIN_SHARE:
        return []
    top = u.group_by(
        resource=u.ResourceId.fill_null("(no resource)"), charge=u.ChargeCategory
    ).aggregate(cost=u.EffectiveCost.sum())
    ranked = fetch_rows(top, order_by=["resource", "charge"])  # ties: by resource
    rows = sorted(ranked, key=lambda r: -r["cost"])[:10]
    zero = Decimal(0)
    return [
        Finding(
            id=finding_id("untagged", ctx.config.owner),
            kind="untagged",
            resource_id=None,
            owner=None,
            monthly_saving=Saving(zero, zero, zero),
            confidence=1.0,
            action=f"tag the resources below with '{ctx.config.owner}' (or add shared-cost rules "
            f"in mlcost.toml): {share:.1%} of the bill has no owner",
            evidence={
                "rule": f"rows whose Tags have no spelling of '{ctx.config.owner}'",
                "untagged_cost": float(money(untagged)),
                "total_cost": float(money(Decimal(str(total)))),
                "share": round(share, 6),
                "window_waste": float(money(untagged)),
                "window_days": round(ctx.days, 4),
                **ctx.window_evidence(),
                "top_untagged": [
                    {
                        "resource": r["resource"],
                        "charge": r["charge"],
                        "cost": float(money(r["cost"])),
                    }
                    for r in rows
                ],
            },
        )
    ]
