"""The first numbers a FinOps engineer wants from the demo bill, read from the warehouse.

Team tags are grouped as the bill writes them, under any of the key spellings the demo
organization uses (``team``, ``Team``, ``team_name``); values such as ``ml-search`` and
``search`` stay apart until attribution normalizes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

UNTAGGED = "(untagged)"
TEAM_TAG = "tag:team|Team|team_name"


@dataclass(frozen=True)
class DemoSummary:
    """EffectiveCost in ``currency``: total, by team, by provider, and the untagged share."""

    currency: str
    total: Decimal
    by_team: list[tuple[str, Decimal]]  # largest first; UNTAGGED collects rows with no team
    by_provider: list[tuple[str, Decimal]]
    untagged: Decimal

    @property
    def untagged_share(self) -> float:
        return float(self.untagged / self.total) if self.total else 0.0


def summarize(warehouse: Warehouse) -> DemoSummary:
    """Spend by team tag and by provider of what the warehouse holds (one currency)."""
    from mlcost.spending import spend

    teams = spend(warehouse, by=[TEAM_TAG]).to_pyarrow().to_pylist()
    providers = spend(warehouse, by=["ServiceProviderName"]).to_pyarrow().to_pylist()
    currencies = {r["BillingCurrency"] for r in providers}
    if len(currencies) != 1:
        raise ValueError(f"the demo bill should have one currency, found {sorted(currencies)}")
    by_team = [(r[TEAM_TAG] or UNTAGGED, r["EffectiveCost"]) for r in teams]
    return DemoSummary(
        currency=currencies.pop(),
        total=sum((c for _, c in by_team), Decimal(0)),
        by_team=by_team,
        by_provider=[(r["ServiceProviderName"], r["EffectiveCost"]) for r in providers],
        untagged=sum((c for t, c in by_team if t == UNTAGGED), Decimal(0)),
    )
