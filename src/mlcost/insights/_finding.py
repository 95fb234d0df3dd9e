"""The :class:`Finding` every detector returns, its money range and its stable id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

__all__ = ["KINDS", "Finding", "Saving", "finding_id", "money"]

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
CENT = Decimal("0.01")


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

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``mlcost insights --format json``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "resource_id": self.resource_id,
            "resource_name": self.resource_name,
            "resource_ids": list(self.resource_ids),
            "owner": self.owner,
            "monthly_saving": self.monthly_saving.as_dict(),
            "confidence": self.confidence,
            "action": self.action,
            "evidence": self.evidence,
        }

    def evidence_json(self) -> str:
        return json.dumps(self.evidence, sort_keys=True, default=str)
