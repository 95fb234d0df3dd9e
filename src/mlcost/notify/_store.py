"""The ``alerts`` and ``alert_deliveries`` tables: notify's store over the warehouse.

An alert is recorded once by its key (``alerts``' primary key keeps the first); each (alert,
channel) pair is a row of ``alert_deliveries`` that stays ``pending`` until the channel
accepts it. Needs keyed upserts and updates (DuckDB and Spark; see docs/engines.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlcost.warehouse import Capability, Store

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["AlertStore", "Pending", "recorded_alerts"]


@dataclass(frozen=True)
class Pending:
    """One undelivered (alert, channel) pair and the payload to send."""

    alert_key: str
    channel: str
    payload: str  # JSON
    attempts: int


class AlertStore(Store):
    """Record alerts with their deliveries, list what is pending, mark each try."""

    feature = "alerts"
    needs = frozenset({Capability.KEYED_UPSERT, Capability.UPDATE_WHERE})

    def add(self, row: Mapping[str, Any], channels: Sequence[str]) -> bool:
        """Record an alert and a pending delivery per channel; False if its key exists."""
        if not self.wh.upsert("alerts", [row], key=("alert_key",)):
            return False
        deliveries = [
            {"alert_key": row["alert_key"], "channel": c, "status": "pending", "attempts": 0}
            for c in channels
        ]
        self.wh.upsert("alert_deliveries", deliveries, key=("alert_key", "channel"))
        return True

    def pending(self) -> list[Pending]:
        """Every undelivered (alert, channel), oldest alert first."""
        d, a = self.wh.table("alert_deliveries"), self.wh.table("alerts")
        j = d.filter(d.status == "pending").join(a, "alert_key")
        j = j.order_by([j.created_at, j.alert_key, j.channel])
        rows = j.select("alert_key", "channel", "payload", "attempts").to_pyarrow().to_pylist()
        return [
            Pending(str(r["alert_key"]), str(r["channel"]), str(r["payload"]), int(r["attempts"]))
            for r in rows
        ]

    def mark(self, alert_key: str, channel: str, *, error: str | None, tries: int = 1) -> None:
        """Record one delivery pass of ``tries`` tries: sent when ``error`` is None, else
        still pending; ``attempts`` counts every try."""
        now = datetime.now(UTC).replace(tzinfo=None)
        values: dict[str, Any] = {"last_attempt_at": now, "last_error": error}
        if error is None:
            values |= {"status": "sent", "sent_at": now}
        where = {"alert_key": alert_key, "channel": channel}
        # update_where adds one per call; the pass's other tries are added one call each
        # within the same transaction, so concurrent passes never lose a count.
        self.wh.update_where("alert_deliveries", values, where, increment=("attempts",))
        for _ in range(tries - 1):
            self.wh.update_where("alert_deliveries", {}, where, increment=("attempts",))


def recorded_alerts(wh: Warehouse) -> list[dict[str, Any]]:
    """Every recorded alert, newest first, with ``delivered`` (no delivery left pending)."""
    a = wh.table("alerts")
    d = wh.table("alert_deliveries")
    pending = d.group_by("alert_key").aggregate(pending=(d.status != "sent").sum())
    j = a.left_join(pending, "alert_key")
    j = j.mutate(delivered=j.pending.fill_null(0) == 0).order_by([j.created_at.desc()])
    rows: list[dict[str, Any]] = j.to_pyarrow().to_pylist()
    return rows
