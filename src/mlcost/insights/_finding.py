"""The :class:`Finding` every detector returns, its money range and its stable id."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

__all__ = [
    "KINDS",
    "ONE_OFF_KINDS",
    "RANGE_BASIS",
    "Finding",
    "Saving",
    "finding_id",
    "money",
    "saving_totals",
]

# The kinds the JSON output may carry (issue 7); a detector returns one of them.
KINDS = (
    "anomaly",
    "commitment",
    "data_transfer",
    "early_stop",
    "idle_gpu",
    "overprovisioned_endpoint",
    "rightsize",
    "runaway",
    "spot",
    "untagged",
)
# Kinds whose money was spent once (a runaway job, training past its plateau, a spike): a
# one-off waste, never a monthly saving. Every other kind's saving recurs month after month.
ONE_OFF_KINDS = frozenset({"anomaly", "early_stop", "runaway"})
CENT = Decimal("0.01")
# What ``low`` and ``high`` are, per kind: scenario bounds (the same data under a cautious and
# a generous reading of the rule), widened by an 80 % interval where it says so; the JSON
# carries this text.
RANGE_BASIS: dict[str, str] = {
    "anomaly": "low 0 (the spike may be planned work), high the whole excess over baseline",
    "commitment": "buy: low at the level used in >= 95 % of hours; unused / contract: low half",
    "data_transfer": "inter-region/zone: low half the cost; internet/on-premises: 20 %..70 %",
    "early_stop": "low after 10 evaluations without improvement, high after the last one",
    "idle_gpu": "the wider of: idle runs >= 8 h only .. every idle hour of the pattern, and "
    "an 80 % interval of the month from the idle cost day by day (short windows widen it); "
    "unused_gpus: high prices every billed hour",
    "overprovisioned_endpoint": "low keeps one spare replica",
    "rightsize": "low at 1.5 x the alternative's price",
    "runaway": "low: only the hours past twice the expected duration",
    "spot": "low: dearest zone of the region at the bucket's top interruption rate; high: "
    "cheapest zone at its bottom (loses_money: low is the move to on-demand; bill_tags: low "
    "also without checkpoints, each job as long as the longest uninterrupted billed stretch)",
    "untagged": "saves nothing by itself",
}


def money(x: float | Decimal) -> Decimal:
    """Round to cents (half-even), the precision findings print and store."""
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def finding_id(kind: str, *key: object) -> str:
    """A stable id: the same kind and key give the same id on every run.

    >>> finding_id("idle_gpu", "i-0abc", "nights_weekends")
    'idle_gpu-78b95d0fc1e6'
    """
    text = "|".join([kind, *(str(k) for k in key)])
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Saving:
    """A monthly saving: a low / expected / high range in one currency."""

    low: Decimal
    expected: Decimal
    high: Decimal
    currency: str = "USD"

    def as_dict(self) -> dict[str, Any]:
        return {
            "low": float(self.low),
            "expected": float(self.expected),
            "high": float(self.high),
            "currency": self.currency,
        }


@dataclass(frozen=True)
class Finding:
    """One recommendation: what is wasted, the evidence, the money and what to do.

    ``evidence`` holds plain JSON values: the figures the saving is computed from (hours,
    prices, costs) and the rule that selected them, so the saving can be redone by hand.
    """

    id: str
    kind: str
    resource_id: str | None
    owner: str | None
    monthly_saving: Saving
    confidence: float
    action: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # Readable name of the billed resource (ResourceName, else the host name); set by
    # attribution's resource identity, as ``resource_id`` becomes the billed ResourceId.
    resource_name: str | None = None
    # The billed resources a finding about several covers (a commitment: whose hours it buys).
    resource_ids: tuple[str, ...] = ()

    @property
    def saving_type(self) -> str:
        """``recurring`` (a monthly saving going forward) or ``one_off`` (money already spent
        once: ``monthly_saving`` then holds that waste, not a monthly figure)."""
        return "one_off" if self.kind in ONE_OFF_KINDS else "recurring"

    @property
    def recurring(self) -> bool:
        return self.saving_type == "recurring"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``mlcost insights --format json``): ``monthly_saving`` for a
        recurring saving, ``one_off_waste`` for money spent once (the other one is null)."""
        money_ = {**self.monthly_saving.as_dict(), "range": RANGE_BASIS.get(self.kind, "")}
        return {
            "id": self.id,
            "kind": self.kind,
            "resource_id": self.resource_id,
            "resource_name": self.resource_name,
            "resource_ids": list(self.resource_ids),
            "owner": self.owner,
            "saving_type": self.saving_type,
            "monthly_saving": money_ if self.recurring else None,
            "one_off_waste": None if self.recurring else money_,
            "confidence": self.confidence,
            "action": self.action,
            "evidence": self.evidence,
        }

    def evidence_json(self) -> str:
        return json.dumps(self.evidence, sort_keys=True, default=str)


def saving_totals(findings: Iterable[Finding]) -> dict[str, dict[str, Decimal]]:
    """Expected money per saving type and currency: ``{"recurring": {"USD": ...},
    "one_off": {...}}``. The one place savings are summed, so that no total adds money
    spent once into a monthly saving."""
    out: dict[str, dict[str, Decimal]] = {"recurring": {}, "one_off": {}}
    for f in findings:
        cell = out[f.saving_type]
        c = f.monthly_saving.currency
        cell[c] = cell.get(c, Decimal(0)) + f.monthly_saving.expected
    return out
