"""The ``actions`` table: the guardrails' audit, policies' store over the warehouse.

One row per decision (who, which policy, which resource, what, dry-run or execute, how it
ended, why). An executed action's row is written first with outcome ``started`` and completed
after the executor answers, so an action cut short (a kill, a crash) still leaves its intent
(issue 22). Needs row writes and keyed updates (DuckDB today; see docs/engines.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlcost.warehouse import Capability, Store

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["STARTED", "AuditStore", "audit_rows"]


class AuditStore(Store):
    """Append guardrail decisions to ``actions``; an action's intent before it is taken."""

    feature = "the guardrail audit"
    needs = frozenset({Capability.ROW_WRITES, Capability.UPDATE_WHERE})

    def add(self, row: Mapping[str, Any]) -> None:
        """Append one decision (columns of ``actions``); inside a transaction."""
        self.wh.insert_rows("actions", [row])

    def begin(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Record an action about to be taken (outcome ``started``) in its own transaction;
        return what :meth:`complete` needs to find the row again."""
        intent = {**row, "outcome": STARTED, "detail": "started; no outcome recorded yet"}
        with self.wh.transaction():
            self.wh.insert_rows("actions", [intent])
        return {c: intent[c] for c in _KEY}

    def complete(self, key: Mapping[str, Any], outcome: str, detail: str) -> None:
        """Record how the action begun as ``key`` ended (its own transaction)."""
        with self.wh.transaction():
            self.wh.update_where("actions", {"outcome": outcome, "detail": detail}, key)


STARTED = "started"
# The columns that find an intent row again: one decision per resource, policy and run.
_KEY = ("acted_at", "actor", "policy", "resource_id", "action", "mode", "outcome")


def audit_rows(wh: Warehouse) -> list[dict[str, Any]]:
    """Every audited decision, newest first."""
    t = wh.table("actions")
    rows: list[dict[str, Any]] = t.order_by(t.acted_at.desc()).to_pyarrow().to_pylist()
    return rows
