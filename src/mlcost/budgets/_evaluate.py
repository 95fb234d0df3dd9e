"""Evaluate budgets: statuses, then their alerts recorded and sent (once each)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime
from typing import TYPE_CHECKING

from mlcost.budgets._status import BudgetStatus, alerts_for, statuses
from mlcost.config import AttributionConfig, BudgetConfig, ChannelConfig

if TYPE_CHECKING:
    from mlcost.notify import DeliveryReport
    from mlcost.warehouse import Warehouse

__all__ = ["evaluate"]


def evaluate(
    wh: Warehouse | Callable[[], AbstractContextManager[Warehouse]],
    budgets: Sequence[BudgetConfig],
    channels: Mapping[str, ChannelConfig],
    *,
    as_of: date | datetime | None = None,
    send: bool = True,
    attribution: AttributionConfig | None = None,
) -> tuple[list[BudgetStatus], DeliveryReport]:
    """Status of every budget; new threshold crossings become alerts, then pending deliveries
    (these and earlier failures) are sent. Safe to repeat: nothing fires twice.

    ``wh`` is an open warehouse, or a function that opens one: given a function, the
    warehouse is closed while alerts are delivered, so other processes can write meanwhile
    (issue 22; :func:`mlcost.notify.deliver_released`)."""
    from mlcost.notify import deliver_released, record_alerts
    from mlcost.warehouse import Warehouse

    open_wh = (lambda: nullcontext(wh)) if isinstance(wh, Warehouse) else wh
    with open_wh() as opened:
        found = statuses(opened, budgets, as_of=as_of, attribution=attribution)
        record_alerts(opened, alerts_for(found), channels)
    return found, deliver_released(open_wh, channels, send=send)
