"""Policies' stores over the warehouse: the ``actions`` audit, ``policy_marks`` (notice and
grace) and ``policy_exemptions``.

One row per decision (who, which policy, which resource, what, dry-run or execute, how it
ended, why). An executed action's row is written first with outcome ``started`` and completed
after the executor answers, so an action cut short (a kill, a crash) still leaves its intent
(issue 22). A mark (issue 21) is a resource's first violation of a policy with its deadline;
it stays open until the action ran, the violation ended or the resource was kept. Needs row
writes and keyed updates (DuckDB and Spark; see docs/engines.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcost.warehouse import Capability, Store

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = [
    "STARTED",
    "AuditStore",
    "Exemption",
    "Mark",
    "MarkStore",
    "audit_rows",
    "exemptions",
    "open_marks",
]


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


@dataclass(frozen=True)
class Mark:
    """An open mark: ``resource_id`` violated ``policy`` at ``marked_at``; acted on only if it
    still does at ``deadline``."""

    policy: str
    resource_id: str
    marked_at: datetime
    deadline: datetime
    actor: str
    reason: str


@dataclass(frozen=True)
class Exemption:
    """``resource_id`` kept from ``policy`` (None: every policy) until ``until`` (None: for
    good), by ``actor`` because ``reason``."""

    resource_id: str
    policy: str | None
    until: datetime | None
    reason: str
    actor: str
    created_at: datetime

    def holds(self, policy: str, at: datetime) -> bool:
        """Whether this exemption keeps the resource from ``policy`` at ``at``."""
        return (self.policy in (None, policy)) and (self.until is None or at < self.until)


class MarkStore(Store):
    """Marks and exemptions: the state between a notice and an action."""

    feature = "the guardrail marks"
    needs = frozenset({Capability.ROW_WRITES, Capability.UPDATE_WHERE})

    def mark(self, mark: Mark) -> None:
        """Record a new mark (inside a transaction)."""
        self.wh.insert_rows("policy_marks", [{**vars(mark), "closed_at": None, "closed_why": None}])

    def close(self, mark: Mark, at: datetime, why: str) -> None:
        """Close ``mark`` (inside a transaction): acted, ok, exempt, protected, gone."""
        key = {"policy": mark.policy, "resource_id": mark.resource_id, "marked_at": mark.marked_at}
        self.wh.update_where("policy_marks", {"closed_at": at, "closed_why": why}, key)

    def exempt(self, exemption: Exemption) -> None:
        """Record an exemption (inside a transaction)."""
        self.wh.insert_rows("policy_exemptions", [vars(exemption)])


def open_marks(wh: Warehouse) -> dict[tuple[str, str], Mark]:
    """Every open mark by (policy, resource_id); reads only. A file an older mlcost wrote,
    opened read-only (not migrated), has none."""
    if "policy_marks" not in wh.tables():
        return {}
    t = wh.table("policy_marks")
    rows = t.filter(t.closed_at.isnull()).to_pyarrow().to_pylist()
    return {
        (r["policy"], r["resource_id"]): Mark(
            r["policy"], r["resource_id"], r["marked_at"], r["deadline"], r["actor"], r["reason"]
        )
        for r in rows
    }


def exemptions(wh: Warehouse) -> list[Exemption]:
    """Every exemption ever recorded (expired ones too: :meth:`Exemption.holds` tells)."""
    if "policy_exemptions" not in wh.tables():
        return []
    rows = wh.table("policy_exemptions").to_pyarrow().to_pylist()
    return [Exemption(**r) for r in rows]
