"""Alerts to named channels: generic JSON webhook, Slack-compatible webhook, email over SMTP,
and a JSON-lines file. Each alert is recorded once and delivered until a channel accepts it.
See docs/budgets.md. The ``alerts`` / ``alert_deliveries`` tables are notify's own store
(:class:`AlertStore`, over the warehouse's general operations).
"""

from mlcost.notify._deliver import (
    DeliveryError,
    DeliveryReport,
    deliver_pending,
    deliver_released,
    insight_alerts,
    record_alerts,
    send,
)
from mlcost.notify._store import AlertStore, Pending, recorded_alerts

__all__ = [
    "AlertStore",
    "DeliveryError",
    "DeliveryReport",
    "Pending",
    "deliver_pending",
    "deliver_released",
    "insight_alerts",
    "record_alerts",
    "recorded_alerts",
    "send",
]
