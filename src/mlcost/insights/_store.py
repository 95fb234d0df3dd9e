"""The ``recommendations`` table: insights' store of findings over the warehouse.

A finding's id is stable across runs, so saving it again updates its row (``first_seen``
kept). Needs keyed upserts (DuckDB today; see docs/engines.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mlcost.config import AttributionConfig
from mlcost.insights._finding import Finding, Saving
from mlcost.warehouse import Capability, Store

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["FindingStore", "load_findings", "save_findings"]

_COLUMNS = (
    "id",
    "kind",
    "resource_id",
    "owner",
    "saving_low",
    "saving_expected",
    "saving_high",
    "currency",
    "confidence",
    "action",
    "evidence",
    "first_seen",
    "last_seen",
)


class FindingStore(Store):
    """Write findings into ``recommendations`` by id."""

    feature = "saving findings"
    needs = frozenset({Capability.KEYED_UPSERT})

    def save(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows (columns of ``recommendations``) or update the rows with their id;
        ``first_seen`` of an existing row is kept. Returns the rows written."""
        update = [c for c in _COLUMNS if c not in ("id", "first_seen")]
        return self.wh.upsert("recommendations", rows, key=("id",), update=update)


def save_findings(wh: Warehouse, findings: Sequence[Finding]) -> int:
    """Store findings in ``recommendations``: a finding seen before updates its row."""
    store = FindingStore(wh)
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "id": f.id,
            "kind": f.kind,
            "resource_id": f.resource_id,
            "owner": f.owner,
            "saving_low": f.monthly_saving.low,
            "saving_expected": f.monthly_saving.expected,
            "saving_high": f.monthly_saving.high,
            "currency": f.monthly_saving.currency,
            "confidence": f.confidence,
            "action": f.action,
            "evidence": f.evidence_json(),
            "first_seen": now,
            "last_seen": now,
        }
        for f in findings
    ]
    with wh.transaction():
        return store.save(rows)


def load_findings(wh: Warehouse, config: AttributionConfig | None = None) -> list[Finding]:
    """The stored findings, worst first, with their resources' readable names."""
    from mlcost.attribution.identity import named

    out = []
    for r in wh.table("recommendations").to_pyarrow().to_pylist():
        out.append(
            Finding(
                id=r["id"],
                kind=r["kind"],
                resource_id=r["resource_id"],
                owner=r["owner"],
                monthly_saving=Saving(
                    Decimal(r["saving_low"]),
                    Decimal(r["saving_expected"]),
                    Decimal(r["saving_high"]),
                    r["currency"],
                ),
                confidence=r["confidence"],
                action=r["action"],
                evidence=json.loads(r["evidence"]),
            )
        )
    out = named(wh, config or AttributionConfig(), out)
    return sorted(out, key=lambda f: (-f.monthly_saving.expected, f.id))
