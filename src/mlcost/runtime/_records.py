"""Where run records go: the spool directory, or a server with buffer-and-retry.

Spool format (schema 1, read by ``mlcost.sources``): JSON-lines files ``*.jsonl`` in the spool
directory, one JSON object a line with ``"schema": 1`` and ``"kind"`` (``run``, ``gpu_sample``).
Each file is written whole to ``NAME.jsonl.tmp`` and renamed, so a reader never sees half a
file. A tracker writes one file per flush, named ``<run_id>-<seq:06d>.jsonl``: sorting a run's
files by name gives the order they were written in, and the last ``run`` line wins.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from mlcost.config import spool_dir

__all__ = [
    "SCHEMA",
    "HttpSink",
    "Sink",
    "SpoolSink",
    "money",
    "open_sink",
    "rfc3339",
    "spool_dir",
]

SCHEMA = 1
Record = dict[str, Any]
log = logging.getLogger("mlcost.runtime")


def rfc3339(t: datetime | None) -> str | None:
    """UTC time as RFC 3339 with a ``Z``, millisecond precision; None stays None."""
    if t is None:
        return None
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(amount: Decimal | None, currency: str = "USD") -> dict[str, str] | None:
    """``{"amount": "12.34", "currency": "USD"}``; None when the amount is unknown."""
    if amount is None:
        return None
    text = format(amount.quantize(Decimal("0.000001")).normalize(), "f")
    return {"amount": text, "currency": currency}


class Sink(Protocol):
    """Takes batches of records. ``write`` must never raise into the user's program."""

    def write(self, records: Sequence[Record]) -> None: ...

    def close(self) -> None: ...


def _jsonl(records: Sequence[Record]) -> bytes:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()


def write_spool_file(final: Path, records: Sequence[Record]) -> Path:
    """Write ``records`` as JSON lines to ``final`` atomically: ``final.tmp``, fsync, rename.

    A reader of the spool never sees half a file. Raises OSError (a full disk, say).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(_jsonl(records))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final


class SpoolSink:
    """Writes each batch as one new ``<prefix>-<seq>.jsonl`` file, atomically (tmp + rename)."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix
        self._seq = 0
        self._lock = threading.Lock()

    def write(self, records: Sequence[Record]) -> None:
        if not records:
            return
        with self._lock:
            self._seq += 1
            final = self.directory / f"{self.prefix}-{self._seq:06d}.jsonl"
            try:
                write_spool_file(final, records)
            except OSError as exc:  # a full disk must not stop training
                log.warning("mlcost: could not write the spool file %s: %s", final, exc)

    def close(self) -> None:
        return None


class HttpSink:
    """POSTs records as JSON lines (``application/x-ndjson``) to ``url``; keeps what fails.

    Unsent records stay in a bounded buffer (``max_buffer`` lines; the oldest GPU samples go
    first when it overflows) and are retried on the next write, at most every ``retry_seconds``.
    On ``close`` whatever still cannot be sent is written to ``fallback`` (the spool), so a
    dead server loses nothing and never breaks training.
    """

    def __init__(
        self,
        url: str,
        *,
        fallback: Sink | None = None,
        timeout: float = 2.0,
        retry_seconds: float = 5.0,
        max_buffer: int = 100_000,
    ) -> None:
        self.url = url
        self.fallback = fallback
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.dropped = 0
        self.failures = 0
        self._buffer: deque[Record] = deque()
        self._max = max_buffer
        self._next_try = 0.0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _post(self, records: Sequence[Record]) -> bool:
        request = urllib.request.Request(
            self.url,
            data=_jsonl(records),
            method="POST",
            headers={"Content-Type": "application/x-ndjson"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return 200 <= int(response.status) < 300
        except (OSError, urllib.error.URLError, ValueError) as exc:
            self.failures += 1
            if self.failures == 1:
                log.warning("mlcost: server %s unreachable (%s); buffering records", self.url, exc)
            return False

    def _trim(self) -> None:
        while len(self._buffer) > self._max:
            # Samples are the cheapest loss: the run record is re-sent on every flush anyway.
            self._buffer.popleft()
            self.dropped += 1

    def write(self, records: Sequence[Record], *, force: bool = False) -> None:
        with self._lock:
            self._buffer.extend(records)
            self._trim()
            now = time.monotonic()
            if not self._buffer or (now < self._next_try and not force):
                return
            batch = list(self._buffer)
            if self._post(batch):
                for _ in batch:
                    self._buffer.popleft()
                self._next_try = 0.0
            else:
                self._next_try = now + self.retry_seconds

    def close(self) -> None:
        self.write([], force=True)
        with self._lock:
            if self._buffer and self.fallback is not None:
                log.warning(
                    "mlcost: %d records could not reach %s; written to the spool instead",
                    len(self._buffer),
                    self.url,
                )
                self.fallback.write(list(self._buffer))
                self._buffer.clear()


def open_sink(
    run_id: str,
    *,
    spool: Path | None = None,
    server: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Sink:
    """The sink for a run: ``server`` (or ``$MLCOST_SERVER``) with the spool as fallback, else
    the spool (``spool``, ``$MLCOST_SPOOL`` or the XDG data dir)."""
    env = os.environ if env is None else env
    spool_sink = SpoolSink(spool if spool is not None else spool_dir(env), run_id)
    url = server or env.get("MLCOST_SERVER")
    if url:
        return HttpSink(url, fallback=spool_sink)
    return spool_sink
