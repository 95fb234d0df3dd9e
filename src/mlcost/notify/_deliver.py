"""Alerts: recorded once in the warehouse, then delivered to named channels with retries.

Each alert has a key; the ``alerts`` table's primary key keeps the first and ignores repeats,
so a threshold fires once per budget per period across runs, restarts and concurrent
watchers. Each (alert, channel) pair is a row in ``alert_deliveries`` that stays ``pending``
until the channel accepts it: a failed delivery is retried with backoff in the same run, and
again on every later run, until it is sent. Delivery is at-least-once at the network level
(a crash between the receiver's 200 and our commit would resend); every payload carries its
``alert_key``, and HTTP posts send it as ``Idempotency-Key``, so a receiver can drop the rare
repeat. The file channel checks the file itself, so it never holds a line twice.
One channel's failure, whatever it raises, stays with that channel: the others still get
their deliveries. Errors name a webhook by scheme and host only (its path is its token).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.config import ChannelConfig, redact, redact_url
from mlcost.errors import ConfigError, MlcostError
from mlcost.notify._store import AlertStore

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = [
    "DeliveryError",
    "DeliveryReport",
    "deliver_pending",
    "deliver_released",
    "insight_alerts",
    "record_alerts",
    "send",
]


class DeliveryError(MlcostError, OSError):
    """A channel did not accept an alert (it stays pending and is retried later)."""


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery pass did: alert keys per outcome, as (key, channel) pairs."""

    sent: tuple[tuple[str, str], ...] = ()
    failed: tuple[tuple[str, str, str], ...] = ()  # (key, channel, error)
    held: tuple[tuple[str, str], ...] = field(default=())  # not sent: send=False


def _slack_body(payload: Mapping[str, Any]) -> dict[str, Any]:
    # Slack incoming webhooks take {"text": ...} and optional blocks (api.slack.com, 2026);
    # Mattermost and Rocket.Chat accept the same shape.
    return {
        "text": str(payload.get("message", "")),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": str(payload.get("message"))}}
        ],
    }


def _post(url: str, body: Mapping[str, Any], timeout: float, key: str) -> None:
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode()
    # Idempotency-Key: the alert's key, so a receiver drops the rare resend (see the module).
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    # The URL is a credential (a Slack webhook's path is its token): messages show its host.
    shown = redact_url(url, secret_path=True)
    try:
        req = urllib.request.Request(url, data=data, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if not 200 <= resp.status < 300:
                raise DeliveryError(f"{shown} answered HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{shown} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"{shown}: {redact(str(exc))}") from None
    except ValueError:  # urllib: "unknown url type" (no scheme), a bad port; it echoes the URL
        raise DeliveryError(f"{shown}: not an http:// or https:// URL to POST to") from None


def _email(channel: ChannelConfig, payload: Mapping[str, Any]) -> None:
    import smtplib
    from email.message import EmailMessage

    msg = EmailMessage()
    subject = payload.get("subject") or f"[mlcost] {payload.get('message', 'alert')}"
    msg["Subject"] = " ".join(str(subject).split())[:200]
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to)
    msg["X-Mlcost-Alert-Key"] = str(payload.get("alert_key", ""))
    if "html" in payload:  # a report (mlcost report --send): readable text and the page
        msg.set_content(str(payload.get("text") or payload.get("message", "")))
        msg.add_alternative(str(payload["html"]), subtype="html")
    else:
        msg.set_content(json.dumps(payload, indent=2, sort_keys=True))
    try:
        with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=channel.timeout_s) as s:
            s.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {channel.smtp_host}:{channel.smtp_port}: {exc}") from exc


def _file(channel: ChannelConfig, payload: Mapping[str, Any]) -> None:
    path = Path(channel.path).expanduser()
    line = json.dumps(payload, sort_keys=True) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A line written before a kill cut the commit is there already: not written twice.
        marker = json.dumps({"alert_key": payload.get("alert_key")})[1:-1]
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                if any(marker in old for old in fh):
                    return
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line)
    except OSError as exc:
        raise DeliveryError(f"{path}: {exc}") from exc


def send(channel: ChannelConfig, payload: Mapping[str, Any]) -> None:
    """Deliver one payload to one channel once; raise :class:`DeliveryError` on failure."""
    key = str(payload.get("alert_key", ""))
    if channel.kind == "webhook":
        _post(channel.url, payload, channel.timeout_s, key)
    elif channel.kind == "slack":
        _post(channel.url, _slack_body(payload), channel.timeout_s, key)
    elif channel.kind == "email":
        _email(channel, payload)
    elif channel.kind == "file":
        _file(channel, payload)
    else:  # pragma: no cover - config validation rejects other kinds
        raise ConfigError(f"channel {channel.name!r}: unknown kind {channel.kind!r}")


def record_alerts(
    wh: Warehouse, alerts: Iterable[Mapping[str, Any]], channels: Mapping[str, ChannelConfig]
) -> list[str]:
    """Record new alerts with a pending delivery per channel; return the keys that were new.

    An alert's ``_channels`` names its channels; a name with no configured channel is an
    error that says which names exist.
    """
    store = AlertStore(wh)
    new = []
    with wh.transaction():
        for alert in alerts:
            names: Sequence[str] = alert.get("_channels", ())
            missing = [n for n in names if n not in channels]
            if missing:
                raise ConfigError(
                    f"alert {alert['alert_key']!r} names unknown channel(s) {', '.join(missing)}. "
                    f"Configured: {', '.join(sorted(channels)) or 'none'}; add "
                    f"[notify.channels.{missing[0]}] to mlcost.toml."
                )
            row = {k: v for k, v in alert.items() if not k.startswith("_")}
            if store.add(row, names):
                new.append(str(row["alert_key"]))
    return new


def deliver_pending(
    wh: Warehouse,
    channels: Mapping[str, ChannelConfig],
    *,
    send: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Try every pending delivery: ``retries`` tries with exponential backoff per channel.

    Each outcome is committed right after its try, so a kill loses at most the one in flight;
    ``attempts`` grows by the tries made (issue 22). No transaction is open while a channel
    is tried, but ``wh`` stays open: to let other processes write the warehouse meanwhile,
    use :func:`deliver_released`.
    """
    return deliver_released(lambda: nullcontext(wh), channels, send=send, sleep=sleep)


def deliver_released(
    open_wh: Callable[[], AbstractContextManager[Warehouse]],
    channels: Mapping[str, ChannelConfig],
    *,
    send: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """:func:`deliver_pending` that holds the warehouse only to read what is pending and to
    record each outcome: ``open_wh()`` opens it for each of those short steps, and it is
    closed while channels are tried (HTTP timeouts, retries and backoff can take minutes,
    and DuckDB admits one writing process: issue 22)."""
    with open_wh() as wh:
        pending = AlertStore(wh).pending()
    sent: list[tuple[str, str]] = []
    failed: list[tuple[str, str, str]] = []
    held: list[tuple[str, str]] = []
    for p in pending:
        key, name = p.alert_key, p.channel
        channel = channels.get(name)
        if channel is None or not send:
            held.append((key, name))
            continue
        error, tries = _try(channel, json.loads(p.payload), sleep)
        with open_wh() as wh, wh.transaction():
            AlertStore(wh).mark(key, name, error=error, tries=tries)
        if error is None:
            sent.append((key, name))
        else:
            failed.append((key, name, error))
    return DeliveryReport(tuple(sent), tuple(failed), tuple(held))


_send = send


def _try(
    channel: ChannelConfig, payload: Mapping[str, Any], sleep: Callable[[float], None]
) -> tuple[str | None, int]:
    """Deliver with ``retries`` tries and backoff: the error (redacted, None once sent) and
    the number of tries made.

    Whatever one channel raises stays with that channel: its row stays pending with the
    error, and the other channels still get their deliveries (issue 22).
    """
    error: str | None = None
    for attempt in range(channel.retries):
        try:
            _send(channel, payload)
            return None, attempt + 1
        except DeliveryError as exc:
            error = redact(str(exc))
            if attempt + 1 < channel.retries:
                sleep(channel.backoff_s * 2**attempt)
        except Exception as exc:  # a bug or a bad channel built in code: no retry helps
            failed = f"{channel.kind} channel {channel.name!r} failed: {redact(repr(exc))}"
            return failed, attempt + 1
    return error, channel.retries


def insight_alerts(
    findings: Iterable[Mapping[str, Any]],
    *,
    min_impact: float,
    channels: Sequence[str],
) -> list[dict[str, Any]]:
    """Alert rows for findings (insights, anomalies) whose impact reaches ``min_impact``.

    The hook for issue 7's insights: each finding is a mapping with ``id``, ``title``,
    ``impact`` (money per month) and ``currency``; pass the result to :func:`record_alerts`.
    The key ``insight|<id>`` makes each finding alert once, ever.
    """
    from datetime import datetime

    out = []
    now = datetime.now().replace(microsecond=0)
    for f in findings:
        impact = float(f["impact"])
        if impact < min_impact:
            continue
        key = f"insight|{f['id']}"
        message = f"{f['title']}: about {impact:,.2f} {f['currency']} a month."
        payload = {"alert_key": key, "source": "insight", **dict(f), "message": message}
        out.append(
            {
                "alert_key": key,
                "source": "insight",
                "subject": str(f["id"]),
                "period_start": None,
                "kind": "insight",
                "threshold": None,
                "amount": impact,
                "limit_amount": None,
                "currency": str(f["currency"]),
                "message": message,
                "payload": json.dumps(payload, sort_keys=True, default=str),
                "created_at": now,
                "_channels": tuple(channels),
            }
        )
    return out
