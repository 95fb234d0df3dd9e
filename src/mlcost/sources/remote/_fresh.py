"""How fresh each bill URL is, and the alert for one that stopped delivering.

A source's freshness is the time its newest loaded delivery was written by the provider (the
manifest's write time on S3, ``runInfo.submittedTime`` on Azure) and the last day its rows
cover (the latest ``ChargePeriodEnd`` of the rows those loads still contribute).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

_WHO = {"aws": "AWS bill", "azure": "Azure bill"}


@dataclass(frozen=True)
class Freshness:
    """The newest delivery loaded from one URL and what it covers."""

    url: str
    provider: str  # aws, azure, files
    delivered_at: datetime  # naive UTC
    covers_through: date | None  # last day with charges; None when no row is left

    @property
    def what(self) -> str:
        return _WHO.get(self.provider, "Bill")

    def line(self, name: str | None = None) -> str:
        """``AWS bill 'aws' delivered 2026-12-04 06:12 UTC, covers through 2026-12-03``."""
        label = f"{self.what} {name!r}" if name else f"{self.what} at {self.url}"
        covers = (
            f", covers through {self.covers_through.isoformat()}"
            if self.covers_through
            else ", no rows left in the warehouse"
        )
        return f"{label} delivered {self.delivered_at:%Y-%m-%d %H:%M} UTC{covers}"


def freshness(wh: Warehouse, url: str) -> Freshness | None:
    """The freshness of the bill URL ``url`` (as :attr:`RemoteUrl.label`); None before its
    first load."""
    t = wh.table("remote_deliveries")
    mine = t.filter((t.source_url == url) & (t.status == "loaded"))
    rows = mine.order_by(mine.delivered_at.desc()).limit(1).to_pyarrow().to_pylist()
    if not rows:
        return None
    ids = [int(i) for i in mine.ingest_id.to_pyarrow().to_pylist() if i is not None]
    items = wh.table("cost_line_items")
    end = items.filter(items.x_IngestId.isin(ids)).ChargePeriodEnd.max().execute() if ids else None
    through = None
    if end is not None and not (isinstance(end, float) and end != end):
        # ChargePeriodEnd is exclusive: a day's charges end at the next midnight.
        through = (end - timedelta(microseconds=1)).date()
    return Freshness(url, str(rows[0]["provider"]), rows[0]["delivered_at"], through)


def all_freshness(wh: Warehouse) -> list[Freshness]:
    """The freshness of every bill URL the warehouse has loaded from, by URL."""
    if "remote_deliveries" not in wh.tables():
        return []  # a warehouse from before migration 12, opened read-only
    t = wh.table("remote_deliveries")
    urls = t.filter(t.status == "loaded").source_url.name("url").to_pyarrow().to_pylist()
    found = (freshness(wh, str(u)) for u in sorted(set(urls)))
    return [f for f in found if f is not None]


def stale_alert(
    fresh: Freshness,
    *,
    name: str,
    stale_after: timedelta,
    now: datetime,
    channels: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """The ``alerts`` row for a source whose newest delivery is older than ``stale_after``.

    Keyed by the source and the delivery's time, so one stall fires once however many rounds
    see it, and a source that delivers again and then stalls again fires again.
    """
    age = now - fresh.delivered_at
    if age <= stale_after:
        return None
    key = f"stale|{name}|{fresh.delivered_at.isoformat()}"
    message = (
        f"{fresh.line(name)}; nothing newer for {_span(age)} (stale after {_span(stale_after)}). "
        f"Check the export's schedule and its destination ({fresh.url})."
    )
    payload = {
        "alert_key": key,
        "source": "watch",
        "kind": "stale",
        "subject": name,
        "url": fresh.url,
        "delivered_at": fresh.delivered_at.isoformat(),
        "covers_through": fresh.covers_through.isoformat() if fresh.covers_through else None,
        "message": message,
    }
    return {
        "alert_key": key,
        "source": "watch",
        "subject": name,
        "period_start": None,
        "kind": "stale",
        "message": message,
        "payload": json.dumps(payload),
        "created_at": now.replace(microsecond=0),
        "_channels": channels,
    }


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
