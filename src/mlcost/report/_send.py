"""Delivering reports through the notify channels, once per week, owner and channel.

A report is recorded like an alert (``alerts`` + ``alert_deliveries``), keyed
``report|weekly|<week>|<owner key>:<owner or *>|<channel>``: running the same command again
(a cron retry, a second watcher) finds the key and sends nothing; a delivery that failed stays
pending and is retried by the next run (or ``mlcost budgets check`` / ``mlcost watch``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcost.errors import ConfigError

if TYPE_CHECKING:
    from mlcost.config import ChannelConfig
    from mlcost.notify import DeliveryReport
    from mlcost.report._model import WeeklyReport
    from mlcost.warehouse import Warehouse

__all__ = ["Sent", "check_channels", "report_key", "send_reports"]


@dataclass(frozen=True)
class Sent:
    """What :func:`send_reports` did: keys recorded now, keys sent before, the deliveries."""

    new: tuple[str, ...]
    already: tuple[str, ...]
    delivery: DeliveryReport


def report_key(r: WeeklyReport, channel: str) -> str:
    """The key that makes a week's report go to a channel once."""
    return f"report|weekly|{r.week}|{r.owner_key}:{r.owner or '*'}|{channel}"


def check_channels(names: Sequence[str], channels: Mapping[str, ChannelConfig]) -> None:
    """Every name is a configured channel, or a clear error before anything is computed."""
    missing = sorted({n for n in names if n not in channels})
    if missing:
        raise ConfigError(
            f"No notify channel {', '.join(repr(m) for m in missing)}. Configured: "
            f"{', '.join(sorted(channels)) or 'none'}; add [notify.channels.{missing[0]}] to "
            "mlcost.toml (kind = webhook, slack, email or file; see docs/budgets.md)."
        )


def _alert(r: WeeklyReport, channel: str, key: str) -> dict[str, Any]:
    from mlcost.report._render import render_html, render_markdown, render_slack

    slack = render_slack(r)
    total = float(r.total.this_week)
    payload = {
        "alert_key": key,
        "source": "report",
        "kind": "weekly_report",
        "week": r.week,
        "owner_key": r.owner_key,
        "owner": r.owner,
        "currency": r.currency,
        "total": round(total, 2),
        "subject": f"[mlcost] {r.title}: {r.total.this_week:,.2f} {r.currency}",
        "message": slack,
        "text": render_markdown(r),
        "html": render_html(r),
        "report": r.as_dict(),
    }
    return {
        "alert_key": key,
        "source": "report",
        "subject": f"{r.week} {r.owner_key}:{r.owner or '*'}",
        "period_start": r.start,
        "kind": "report",
        "threshold": None,
        "amount": total,
        "limit_amount": None,
        "currency": r.currency,
        "message": r.title,
        "payload": json.dumps(payload, sort_keys=True),
        "created_at": datetime.now().replace(microsecond=0),
        "_channels": (channel,),
    }


def send_reports(
    wh: Warehouse,
    reports: Sequence[tuple[WeeklyReport, str]],
    channels: Mapping[str, ChannelConfig],
    *,
    resend: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> Sent:
    """Record each (report, channel) once and deliver what is pending.

    ``resend`` records a new key (suffixed with the time) so a report already sent goes again.
    Delivery is :func:`mlcost.notify.deliver_pending`: it also delivers any other alert still
    pending (a budget alert whose channel was down), as ``mlcost budgets check`` would.
    """
    import time

    from mlcost.notify import deliver_pending, record_alerts

    check_channels([c for _, c in reports], channels)
    stamp = f"|resent-{datetime.now():%Y%m%dT%H%M%S%f}" if resend else ""
    rows = [_alert(r, c, report_key(r, c) + stamp) for r, c in reports]
    new = record_alerts(wh, rows, channels)
    already = tuple(str(a["alert_key"]) for a in rows if a["alert_key"] not in new)
    delivery = deliver_pending(wh, channels, sleep=sleep or time.sleep)
    return Sent(tuple(new), already, delivery)
