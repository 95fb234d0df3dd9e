"""Savings accounting: hits, misses, latency and money saved, written to the tracker spool.

The spool is a folder of ``*.jsonl`` files that ``sources/`` reads into the warehouse:
``$MLCOST_SPOOL``, else ``$XDG_DATA_HOME/mlcost/spool``. Each file is written as
``NAME.jsonl.tmp`` and renamed, so a reader never sees half a file. One line per report::

    {"schema": 1, "kind": "cache_stats", "run_id": null, "time": "2026-11-28T12:00:00Z",
     "cache": "sentiment", "hits": 90, "misses": 10, "saved_seconds": 45.0,
     "saved": {"amount": "0.0125", "currency": "USD"}}

``saved`` is ``null`` when no cost was given: an unknown saving is not a zero saving.

    >>> s = CacheStats("demo", hits=3, misses=1, saved_seconds=1.5, computed_seconds=0.5,
    ...                saved=Money(Decimal("0.03"), "USD"))
    >>> s.hit_rate
    0.75
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from mlcost.errors import InvalidInput
from mlcost.runtime import spool_dir, write_spool_file

__all__ = ["CacheStats", "Money", "spool_dir", "write_stats"]

SCHEMA = 1


@dataclass(frozen=True)
class Money:
    """An amount with its currency (ISO 4217 code)."""

    amount: Decimal
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise InvalidInput(
                f"currency {self.currency!r} is not an ISO 4217 code", fix="e.g. 'USD', 'EUR'"
            )

    def to_dict(self) -> dict[str, str]:
        # At most 6 decimals, at least 2: per-prediction savings are often fractions of a cent.
        q = self.amount.quantize(Decimal("0.000001")).normalize()
        text = f"{q:f}"
        if "." not in text:
            text += ".00"
        elif len(text.split(".")[1]) < 2:
            text += "0"
        return {"amount": text, "currency": self.currency}


@dataclass(frozen=True)
class CacheStats:
    """What one cache did since it was created (or since its stats were reset)."""

    cache: str
    hits: int
    misses: int
    saved_seconds: float
    computed_seconds: float
    saved: Money | None = None

    @property
    def hit_rate(self) -> float | None:
        """Hits over lookups; ``None`` before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else None

    def to_record(
        self, *, run_id: str | None = None, time: datetime | None = None
    ) -> dict[str, Any]:
        """The spool line for these stats."""
        when = (time or datetime.now(UTC)).astimezone(UTC)
        return {
            "schema": SCHEMA,
            "kind": "cache_stats",
            "run_id": run_id,
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cache": self.cache,
            "hits": self.hits,
            "misses": self.misses,
            "saved_seconds": round(self.saved_seconds, 6),
            "saved": None if self.saved is None else self.saved.to_dict(),
        }


def write_stats(
    stats: CacheStats | list[CacheStats],
    *,
    run_id: str | None = None,
    spool: str | Path | None = None,
    time: datetime | None = None,
) -> Path:
    """Write one JSON line per stats object into a new spool file; returns its path."""
    items = stats if isinstance(stats, list) else [stats]
    folder = Path(spool) if spool is not None else spool_dir()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", items[0].cache if items else "cache")[:64]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    final = folder / f"cache_stats-{safe}-{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    return write_spool_file(final, [s.to_record(run_id=run_id, time=time) for s in items])
