"""Alerts to named channels: generic JSON webhook, Slack-compatible webhook, email over SMTP,
and a JSON-lines file. Each alert is recorded once and delivered until a channel accepts it.
See docs/budgets.md.
"""

from mlcost.notify._deliver import (
    DeliveryError,
    DeliveryReport,
    deliver_pending,
    insight_alerts,
    record_alerts,
    send,
)

__all__ = [
    "DeliveryError",
    "DeliveryReport",
    "deliver_pending",
    "insight_alerts",
    "record_alerts",
    "send",
]
