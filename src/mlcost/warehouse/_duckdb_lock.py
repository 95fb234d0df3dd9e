"""Sharing the DuckDB file between processes: one read-write process or many read-only ones.

A writer that finds the file held waits up to ``MLCOST_LOCK_WAIT`` s, touching
``<file>.writer-waiting`` so a long-lived reader (the server) lets go; a reader fails at once.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from mlcost.errors import ConfigError, WarehouseError, WarehouseLocked

LOCK_WAIT_ENV = "MLCOST_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 60.0
# A writer that finds the file held touches ``<file>.writer-waiting`` at each retry (and removes
# it once in or given up): a long-lived reader (`mlcost serve`) lets go of the file while it is
# fresh. A killed writer's marker goes stale after WAITING_FRESH_S.
WAITING_SUFFIX = ".writer-waiting"
WAITING_FRESH_S = 5.0
_HOLDER = re.compile(r"held in (.+?) \(PID (\d+)\)")


def lock_wait() -> float:
    """Seconds a writer waits for a busy file: ``MLCOST_LOCK_WAIT``, default 60 (0: never)."""
    import os

    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigError(
            f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds. Write it like 60 (or 0 to fail "
            "at once when another process holds the warehouse)."
        )
    return value


def connect(path: str, *, read_only: bool, wait: float) -> Any:
    """``ibis.duckdb.connect``; while another process holds the file, retry for ``wait`` s.

    DuckDB admits one read-write process or many read-only ones, never both: a writer meets
    the server's short read-only opens and waits them out; a reader (the server) fails at once
    so it can answer 503 with Retry-After.
    """
    import time

    import duckdb
    import ibis

    deadline = time.monotonic() + wait
    pause = 0.05
    marker = Path(path + WAITING_SUFFIX) if not read_only and path != ":memory:" else None
    touched = False
    try:
        while True:
            try:
                return ibis.duckdb.connect(path, read_only=read_only)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                # Another process holds the file (a lock), or this one does with the other
                # mode (DuckDB: "a different configuration"; a server in a thread, a test).
                text = str(exc).lower()
                if "lock" not in text and "different configuration" not in text:
                    raise WarehouseError(f"Cannot open warehouse {path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise _locked(path, exc, wait) from exc
                if marker is not None:
                    with contextlib.suppress(OSError):  # a reader that holds the file lets go
                        marker.touch()
                        touched = True
                time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
                pause = min(pause * 2, 1.0)
    finally:
        if marker is not None and touched:
            with contextlib.suppress(OSError):
                marker.unlink(missing_ok=True)


def writer_waiting(path: str) -> bool:
    """Whether a writer waits for the DuckDB file at ``path`` now (its marker is fresh)."""
    import time

    try:
        touched = Path(path + WAITING_SUFFIX).stat().st_mtime
    except FileNotFoundError:
        return False
    return time.time() - touched < WAITING_FRESH_S


def _locked(path: str, exc: Exception, wait: float) -> WarehouseLocked:
    """The error for a file another process holds, naming the holder when DuckDB does."""
    holder = _HOLDER.search(str(exc))
    who = f"process {holder.group(2)} ({holder.group(1)})" if holder else "another process"
    waited = f" (waited {wait:g} s, see {LOCK_WAIT_ENV})" if wait else ""
    return WarehouseLocked(
        f"{path} is open in {who}{waited}. Wait for it to finish, "
        "or point --warehouse at another file."
    )
