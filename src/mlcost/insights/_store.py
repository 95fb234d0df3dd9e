"""The ``recommendations`` table: insights' store of findings over the warehouse.

A finding's id is stable across runs, so saving it again updates its row (``first_seen``
kept). A stored finding that a run of its detector no longer reports is closed
(``closed_at`` set, the row kept); when it comes back it is reopened (``closed_at`` cleared,
``first_seen`` kept). Needs keyed upserts and updates (both engines offer them; see
docs/engines.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
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
    "saving_type",
    "confidence",
    "action",
    "evidence",
    "first_seen",
    "last_seen",
    "closed_at",
)


class FindingStore(Store):
    """Write findings into ``recommendations`` by id."""

    feature = "saving findings"
    needs = frozenset({Capability.KEYED_UPSERT, Capability.UPDATE_WHERE})

    def save(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows (columns of ``recommendations``) or update the rows with their id;
        ``first_seen`` of an existing row is kept. Returns the rows written."""
        update = [c for c in _COLUMNS if c not in ("id", "first_seen")]
        return self.wh.upsert("recommendations", rows, key=("id",), update=update)

    def close(self, kinds: Iterable[str], keep: set[str], now: datetime) -> int:
        """Close the open findings of ``kinds`` whose id is not in ``keep``; return how many."""
        t = self.wh.table("recommendations")
        wanted = sorted(set(kinds))
        if not wanted:
            return 0
        open_ = t.filter(t.closed_at.isnull() & t.kind.isin(wanted)).select("id")
        stale = [r["id"] for r in open_.to_pyarrow().to_pylist() if r["id"] not in keep]
        closing = {"closed_at": now}
        return sum(
            self.wh.update_where("recommendations", closing, {"id": i, "closed_at": None})
            for i in stale
        )


def save_findings(
    wh: Warehouse, findings: Sequence[Finding], *, ran: Iterable[str] | None = None
) -> int:
    """Store findings in ``recommendations``: a finding seen before updates its row (and is
    reopened if it was closed). ``ran``: the detectors (kinds) that ran over the whole data;
    their stored findings missing from ``findings`` no longer hold and are closed."""
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
            "saving_type": f.saving_type,
            "confidence": f.confidence,
            "action": f.action,
            "evidence": f.evidence_json(),
            "first_seen": now,
            "last_seen": now,
            "closed_at": None,
        }
        for f in findings
    ]
    with wh.transaction():
        written = store.save(rows)
        if ran is not None:
            store.close(ran, {f.id for f in findings}, now)
        return written


def load_findings(
    wh: Warehouse, config: AttributionConfig | None = None, *, include_closed: bool = False
) -> list[Finding]:
    """The stored findings that still hold (``include_closed``: the closed ones too), worst
    first, with their resources' readable names. A warehouse without the ``recommendations``
    table (a Spark warehouse made before it had one) has none stored: ``[]``."""
    from ibis.common.exceptions import TableNotFound

    from mlcost.attribution.identity import named

    try:
        t = wh.table("recommendations")
    except TableNotFound:
        return []
    if not include_closed:
        t = t.filter(t.closed_at.isnull())
    out = []
    for r in t.to_pyarrow().to_pylist():
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
