"""The ``actions`` table: the guardrails' audit, policies' store over the warehouse.

One row per decision (who, which policy, which resource, what, dry-run or execute, how it
ended, why). Needs row writes (DuckDB today; see docs/engines.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlcost.warehouse import Capability, Store

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["AuditStore", "audit_rows"]


class AuditStore(Store):
    """Append guardrail decisions to ``actions``."""

    feature = "the guardrail audit"
    needs = frozenset({Capability.ROW_WRITES})

    def add(self, row: Mapping[str, Any]) -> None:
        """Append one decision (columns of ``actions``); inside a transaction."""
        self.wh.insert_rows("actions", [row])


def audit_rows(wh: Warehouse) -> list[dict[str, Any]]:
    """Every audited decision, newest first."""
    t = wh.table("actions")
    rows: list[dict[str, Any]] = t.order_by(t.acted_at.desc()).to_pyarrow().to_pylist()
    return rows
