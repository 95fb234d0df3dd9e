"""Evaluate budgets: statuses, then their alerts recorded and sent (once each)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from mlcost.budgets._status import BudgetStatus, alerts_for, statuses
from mlcost.config import AttributionConfig, BudgetConfig, ChannelConfig

if TYPE_CHECKING:
    from mlcost.notify import DeliveryReport
    from mlcost.warehouse import Warehouse

__all__ = ["evaluate"]


def evaluate(
    wh: Warehouse,
    budgets: Sequence[BudgetConfig],
    channels: Mapping[str, ChannelConfig],
    *,
    as_of: date | datetime | None = None,
    send: bool = True,
    attribution: AttributionConfig | None = None,
) -> tuple[list[BudgetStatus], DeliveryReport]:
    """Status of every budget; new threshold crossings become alerts, then pending deliveries
    (these and earlier failures) are sent. Safe to repeat: nothing fires twice."""
    from mlcost.notify import deliver_pending, record_alerts

    found = statuses(wh, budgets, as_of=as_of, attribution=attribution)
    record_alerts(wh, alerts_for(found), channels)
    return found, deliver_pending(wh, channels, send=send)
