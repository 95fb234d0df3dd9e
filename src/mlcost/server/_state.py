"""The server's one view of the warehouse: read-only opens per request, results cached.

Each request opens the warehouse read-only and closes it when done, so `mlcost ingest`,
`mlcost tokens create` or `mlcost showback` can write between requests (DuckDB lets one
process write, or many read, at a time). Results are cached by the state of the file: the
size and modification time of the DuckDB file and its WAL. Any write changes them, so a cached
answer is never older than the data. Spark warehouses are not cached. The warehouse is the
target the app was built with (parsed once, by the CLI or :func:`mlcost.warehouse.target_of`).

The live API tokens are kept in memory per state of the file (Spark: reloaded at most every
5 s), so a malformed, unknown, wrong or expired token is refused without opening the file.
While a writer holds the file an open fails with ``WarehouseLocked`` (the app answers 503
with Retry-After); writers wait out these short opens (``MLCOST_LOCK_WAIT``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mlcost.server.auth import Principal
    from mlcost.warehouse import Warehouse, WarehouseTarget

T = TypeVar("T")
_MAX_ENTRIES = 512
_RELOAD_S = 5.0  # an engine without a file stamp (Spark) reloads the token table this often


class Reader:
    """Opens the target's warehouse read-only and caches answers per data state."""

    def __init__(self, target: WarehouseTarget) -> None:
        from mlcost.warehouse import DuckDBTarget

        self.target = target
        # Only a DuckDB file can be stamped (Spark's tables and an in-memory file cannot).
        self.path: Path | None = None
        if isinstance(target, DuckDBTarget) and target.path != ":memory:":
            self.path = Path(target.path)
        self._cache: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}  # questions being answered
        # (stamp when read, monotonic time when read, live tokens by id): see known_principal.
        self._tokens: tuple[tuple[int, ...] | None, float, dict[str, dict[str, Any]]] | None = None

    def stamp(self) -> tuple[int, ...] | None:
        """Size and mtime of the file and its WAL; None when the data cannot be stamped."""
        if self.path is None:
            return None
        out: list[int] = []
        for p in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = p.stat()
            except FileNotFoundError:
                out += [-1, -1]
            else:
                out += [st.st_size, st.st_mtime_ns]
        return tuple(out)

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        from mlcost.warehouse import open_warehouse

        wh = open_warehouse(self.target, read_only=True)
        try:
            yield wh
        finally:
            wh.close()

    def peek(self, key: Hashable) -> tuple[bool, Any]:
        """(True, value) when ``key`` is cached for the current data, else (False, None)."""
        stamp = self.stamp()
        if stamp is None:
            return False, None
        with self._lock:
            if (stamp, key) in self._cache:
                return True, self._cache[(stamp, key)]
        return False, None

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, reused while the warehouse file is unchanged.

        Computed once per question and data state: requests that ask it while it is being
        computed wait for that answer instead of running the same query beside it (50
        clients asking a new question at once would otherwise run it 50 times over).
        """
        stamp = self.stamp()
        if stamp is None:
            return compute()
        entry = (stamp, key)
        with self._lock:
            if entry in self._cache:
                self._cache.move_to_end(entry)
                return self._cache[entry]  # type: ignore[return-value]
            gate = self._computing.setdefault(entry, threading.Lock())
        try:
            with gate:
                with self._lock:  # answered while this request waited
                    if entry in self._cache:
                        return self._cache[entry]  # type: ignore[return-value]
                value = compute()
                # A write during compute() may or may not be in the value: keep it only if
                # none was (the requests waiting then compute their own, one at a time).
                if stamp == self.stamp():
                    with self._lock:
                        self._cache[entry] = value
                        while len(self._cache) > _MAX_ENTRIES:
                            self._cache.popitem(last=False)
                return value
        finally:
            with self._lock:
                if self._computing.get(entry) is gate and not gate.locked():
                    del self._computing[entry]

    def cached(self, key: Hashable, compute: Callable[[Warehouse], T]) -> T:
        """``compute(warehouse)`` on a read-only open, reused while the file is unchanged."""

        def run() -> T:
            with self.open() as wh:
                return compute(wh)

        return self.memo(key, run)

    def known_principal(self, token: str) -> tuple[bool, Principal | None]:
        """(True, principal or None) when the in-memory token table answers for the current
        data, with no warehouse work: a malformed token, an unknown id, a wrong secret or an
        expired token is None. (False, None) when the table must be (re)loaded first."""
        from mlcost.server.auth import verify, well_formed

        if well_formed(token) is None:
            return True, None
        with self._lock:
            loaded = self._tokens
        if loaded is None:
            return False, None
        stamp, at, table = loaded
        # A DuckDB file is fresh while unchanged; other engines reload at most every few s.
        fresh = stamp == self.stamp() if stamp is not None else time.monotonic() - at < _RELOAD_S
        return (True, verify(table, token)) if fresh else (False, None)

    def principal(self, token: str) -> Principal | None:
        """The principal of ``token``; reloads the token table once per write (may block)."""
        from mlcost.server.auth import verify
        from mlcost.server.auth._store import live_tokens

        known, principal = self.known_principal(token)
        if known:
            return principal
        stamp = self.stamp()
        with self.open() as wh:
            table = live_tokens(wh)
        with self._lock:
            self._tokens = (stamp, time.monotonic(), table)
        return verify(table, token)
