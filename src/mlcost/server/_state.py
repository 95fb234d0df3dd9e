"""The server's one view of the warehouse: one read-only open per data state, answers cached.

A DuckDB file is opened read-only once and kept open while requests come: each request thread
gets a cursor of that open (its own DuckDB session, the same database), so a request costs
its query, not an open, a schema reflection and a migrations check. At most ``ENGINE_SLOTS``
requests run queries at once (the engine parallelizes each query itself); the others queue.
DuckDB lets one process write, or many read, at a time, so the open is let go:

- when a writer waits: ``mlcost ingest``, ``mlcost tokens create``, ``mlcost showback`` (any
  ``open_warehouse`` for writing) that finds the file held touches ``<file>.writer-waiting``
  at each retry; while that marker is fresh the server closes its open as soon as the queries
  in flight end and answers what it cannot serve from its cache with 503 ``WarehouseLocked``
  and ``Retry-After``, so the writer gets in at its next retry (``MLCOST_LOCK_WAIT``);
- after ``IDLE_S`` without a request, and when the file's stamp changes.

While a writer holds the file an open fails with ``WarehouseLocked`` (503 with Retry-After).
Results are cached by the state of the file: the size and modification time of the DuckDB
file and its WAL. Any write changes them, so a cached answer is never older than the data.
Spark warehouses and in-memory files are opened per request and not cached; for Spark one more
open is held for the server's life, so its context (the local JVM) starts once and a request's
close never stops it under the others. The warehouse is
the target the app was built with (parsed once, by the CLI or
:func:`mlcost.warehouse.target_of`).

The live API tokens are kept in memory per state of the file (Spark: reloaded at most every
5 s), so a malformed, unknown, wrong or expired token is refused without opening the file.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from anyio import CapacityLimiter

    from mlcost.server.auth import Principal
    from mlcost.warehouse import DuckDBWarehouse, Warehouse, WarehouseTarget

T = TypeVar("T")
_MAX_ENTRIES = 512
_RELOAD_S = 5.0  # an engine without a file stamp (Spark) reloads the token table this often
IDLE_S = 1.0  # a read-only open no request used for this long is closed (writers get in)
ENGINE_SLOTS = max(2, os.cpu_count() or 2)  # requests whose queries run at once
# DuckDB threads per query of the held open: the slots (one per core) fill the cores with
# requests, and a small query's own worker threads spent more CPU than they saved (10.0 →
# 7.1 ms of server CPU per uncached demo question, docs/benchmarks.md).
QUERY_THREADS = 1


class _Held:
    """The read-only open of one data state and its cursors (one per request thread)."""

    def __init__(self, root: DuckDBWarehouse, stamp: tuple[int, ...]) -> None:
        self.root = root
        self.stamp = stamp
        self.idle: list[DuckDBWarehouse] = []  # cursors no request uses now
        self.users = 0  # cursors in use
        self.last = time.monotonic()  # when a request last gave its cursor back
        self.retired = False  # closed to new requests; the root closes with its last cursor
        self.closed = False


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
        self._held: _Held | None = None  # the read-only open of a DuckDB file (see open)
        self._held_lock = threading.Lock()
        self._engine: Warehouse | None = None  # Spark: held for the server's life (see open)
        self._slots = threading.Semaphore(ENGINE_SLOTS)
        self._local = threading.local()
        self._limiter: CapacityLimiter | None = None  # the worker threads of run()

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
        """A read-only warehouse for one request thread: a cursor of the held open (DuckDB
        file), or an open of its own (Spark, in-memory). Raises ``WarehouseLocked`` while a
        writer holds the file or waits for it."""
        if self.path is None:
            from mlcost.warehouse import open_warehouse

            with self._slot():
                self._keep_engine()
                with open_warehouse(self.target, read_only=True) as own:
                    yield own
            return
        with self._slot():
            held, wh = self._checkout()
            try:
                yield wh
            finally:
                self._checkin(held, wh)

    def _keep_engine(self) -> None:
        """Spark: one open held for the server's life, so the Spark context (the local JVM)
        starts once, and the requests' own opens come and go on it."""
        from mlcost.warehouse import SparkTarget, open_warehouse

        if not isinstance(self.target, SparkTarget) or self._engine is not None:
            return
        with self._held_lock:
            if self._engine is None:
                self._engine = open_warehouse(self.target, read_only=True)

    @contextmanager
    def _slot(self) -> Iterator[None]:
        """One of ``ENGINE_SLOTS`` (reentrant: a computation that opens again keeps its own)."""
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._slots.acquire()
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                self._slots.release()

    def _checkout(self) -> tuple[_Held, DuckDBWarehouse]:
        from mlcost.errors import WarehouseLocked
        from mlcost.warehouse import DuckDBWarehouse, open_warehouse, writer_waiting

        assert self.path is not None
        if writer_waiting(str(self.path)):
            with self._held_lock:
                self._retire()
            raise WarehouseLocked(
                f"{self.path}: a writer (mlcost ingest, showback, tokens) is waiting for the "
                "file; the server let go of it. Ask again in a few seconds."
            )
        stamp = self.stamp()
        assert stamp is not None
        with self._held_lock:
            held = self._held
            if held is not None and held.stamp != stamp:
                self._retire()
                held = None
            if held is None:
                root = open_warehouse(self.target, read_only=True)
                assert isinstance(root, DuckDBWarehouse)
                root.limit_threads(QUERY_THREADS)
                held = self._held = _Held(root, stamp)
                threading.Thread(target=self._reap, args=(held,), daemon=True).start()
            held.users += 1
            try:
                wh = held.idle.pop() if held.idle else held.root.cursor()
            except BaseException:
                held.users -= 1
                raise
        return held, wh

    def _checkin(self, held: _Held, wh: DuckDBWarehouse) -> None:
        with self._held_lock:
            if held.retired:  # its cursor first, then the open with its last cursor
                wh.close()
            else:
                held.idle.append(wh)
            held.users -= 1
            held.last = time.monotonic()
            self._close_if_unused(held)

    def _retire(self) -> None:
        """Close the held open to new requests (caller holds ``_held_lock``); it closes when
        its requests in flight give their cursors back."""
        held = self._held
        if held is None:
            return
        self._held = None
        held.retired = True
        idle, held.idle = held.idle, []
        for wh in idle:
            wh.close()
        self._close_if_unused(held)

    def _close_if_unused(self, held: _Held) -> None:
        """Close a retired open whose cursors are all back (caller holds ``_held_lock``)."""
        if held.retired and held.users == 0 and not held.closed:
            held.closed = True
            held.root.close()

    def _reap(self, held: _Held) -> None:
        """Let go of ``held`` after IDLE_S unused, or at once when a writer waits."""
        from mlcost.warehouse import writer_waiting

        assert self.path is not None
        while True:
            time.sleep(IDLE_S / 4)
            waiting = writer_waiting(str(self.path))
            with self._held_lock:
                if self._held is not held:
                    return
                if waiting or (held.users == 0 and time.monotonic() - held.last > IDLE_S):
                    self._retire()
                    return

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread, at most ``ENGINE_SLOTS`` at once: the others wait
        in the event loop, not as threads contending for the interpreter."""
        import anyio

        if self._limiter is None:  # made in the event loop that serves
            self._limiter = anyio.CapacityLimiter(ENGINE_SLOTS)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

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
