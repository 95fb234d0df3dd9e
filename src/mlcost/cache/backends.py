"""Where cached values live: in-process LRU bounded by bytes, a SQLite file, or Redis.

A backend stores opaque bytes under a string key with an absolute expiry time (Unix seconds,
``None`` = never). It knows nothing of TTL rules, models or statistics: those live in
:class:`~mlcost.cache.PredictionCache`. Every backend is safe to share between threads;
SQLite and Redis are also shared between processes.

    >>> backend = MemoryBackend(max_bytes=1_000)
    >>> backend.set("k", Entry(b"v", expires_at=None, ttl=None, compute_seconds=0.5), now=0.0)
    >>> backend.get("k", now=1e9).value
    b'v'
"""

from __future__ import annotations

import sqlite3
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mlcost.config import redact_url
from mlcost.errors import CacheError, InvalidInput

__all__ = ["Backend", "Entry", "MemoryBackend", "RedisBackend", "SQLiteBackend"]


@dataclass(frozen=True)
class Entry:
    """One cached value: its bytes, absolute expiry, its TTL (for sliding) and what it cost."""

    value: bytes
    expires_at: float | None
    ttl: float | None
    compute_seconds: float

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@runtime_checkable
class Backend(Protocol):
    """The small interface every store implements."""

    def get(self, key: str, *, now: float) -> Entry | None:
        """The live entry under ``key``, or ``None`` (absent or expired)."""

    def set(self, key: str, entry: Entry, *, now: float) -> None:
        """Store ``entry`` under ``key``, replacing any older one."""

    def touch(self, key: str, expires_at: float | None) -> None:
        """Move the expiry of ``key`` (sliding TTL); no-op when absent."""

    def delete(self, key: str) -> None:
        """Forget ``key``."""

    def clear(self) -> None:
        """Forget everything this backend holds."""


class MemoryBackend:
    """In-process LRU bounded by bytes (key + value), not by entry count.

    Model outputs vary from a float to a megabyte of logits, so a count bound says little about
    memory. A value larger than ``max_bytes`` is not stored at all (``too_large`` counts them).
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        if max_bytes <= 0:
            raise InvalidInput(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes_used = 0
        self.evictions = 0
        self.too_large = 0
        self._data: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _size(key: str, entry: Entry) -> int:
        return len(key.encode()) + len(entry.value)

    def _drop(self, key: str) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self.bytes_used -= self._size(key, old)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, *, now: float) -> Entry | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry.expired(now):
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return entry

    def set(self, key: str, entry: Entry, *, now: float) -> None:
        size = self._size(key, entry)
        with self._lock:
            self._drop(key)
            if size > self.max_bytes:
                self.too_large += 1
                return
            # Expired entries go first, then least recently used ones.
            if self.bytes_used + size > self.max_bytes:
                for k in [k for k, e in self._data.items() if e.expired(now)]:
                    self._drop(k)
            while self.bytes_used + size > self.max_bytes:
                oldest = next(iter(self._data))
                self._drop(oldest)
                self.evictions += 1
            self._data[key] = entry
            self.bytes_used += size

    def touch(self, key: str, expires_at: float | None) -> None:
        with self._lock:
            if key in self._data:
                self._data[key] = replace(self._data[key], expires_at=expires_at)

    def delete(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.bytes_used = 0


class SQLiteBackend:
    """A SQLite file: survives restarts and is shared by processes on one machine (WAL mode)."""

    def __init__(self, path: str | Path, *, table: str = "mlcost_cache") -> None:
        if not table.isidentifier():
            raise InvalidInput(f"table name {table!r} is not an identifier", fix="use [A-Za-z_]+")
        self.path = Path(path)
        self.table = table
        self._local = threading.local()
        conn = self._conn()
        with conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value BLOB NOT NULL, "
                "expires_at REAL, ttl REAL, compute_seconds REAL NOT NULL)"
            )

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
            except (OSError, sqlite3.Error) as exc:
                raise CacheError(
                    f"cannot open the cache file {self.path}: {exc}. "
                    "Check that its folder is writable, or choose another path."
                ) from exc
            self._local.conn = conn
        return conn

    def get(self, key: str, *, now: float) -> Entry | None:
        row = (
            self._conn()
            .execute(
                f"SELECT value, expires_at, ttl, compute_seconds FROM {self.table} WHERE key = ?",
                (key,),
            )
            .fetchone()
        )
        if row is None:
            return None
        entry = Entry(bytes(row[0]), row[1], row[2], row[3])
        if entry.expired(now):
            self.delete(key)
            return None
        return entry

    def set(self, key: str, entry: Entry, *, now: float) -> None:
        self._conn().execute(
            f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?, ?, ?, ?)",
            (key, entry.value, entry.expires_at, entry.ttl, entry.compute_seconds),
        )

    def touch(self, key: str, expires_at: float | None) -> None:
        self._conn().execute(
            f"UPDATE {self.table} SET expires_at = ? WHERE key = ?", (expires_at, key)
        )

    def delete(self, key: str) -> None:
        self._conn().execute(f"DELETE FROM {self.table} WHERE key = ?", (key,))

    def clear(self) -> None:
        self._conn().execute(f"DELETE FROM {self.table}")

    def purge_expired(self, *, now: float) -> int:
        """Delete expired rows now (reads skip them anyway); returns how many."""
        cur = self._conn().execute(
            f"DELETE FROM {self.table} WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        )
        return cur.rowcount


_HEADER = struct.Struct(">dd")  # compute_seconds, ttl (NaN = never)


class RedisBackend:
    """A Redis server: shared by processes and machines; Redis itself expires keys.

    Needs the ``redis`` client (``pip install 'mlcost[redis]'``). Expiry is Redis's own
    ``PXAT``, so an entry vanishes on the server at its time even if no client reads it.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "mlcost:") -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise CacheError(
                "the Redis backend needs the redis client. Run: pip install 'mlcost[redis]'"
            ) from exc
        self.url = url
        self.prefix = prefix
        self._client: Any = redis.Redis.from_url(url)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except self._errors as exc:
            raise CacheError(
                f"Redis at {redact_url(self.url)} failed on {method.upper()}: {exc}. "
                "Check that the server runs and the URL is right (redis-cli -u URL ping)."
            ) from exc

    def get(self, key: str, *, now: float) -> Entry | None:
        pipe_key = self.prefix + key
        raw = self._call("get", pipe_key)
        if raw is None:
            return None
        compute_seconds, ttl = _HEADER.unpack_from(raw)
        pexpire = self._call("pexpiretime", pipe_key)
        expires_at = pexpire / 1000 if pexpire and pexpire > 0 else None
        return Entry(
            bytes(raw[_HEADER.size :]), expires_at, None if ttl != ttl else ttl, compute_seconds
        )

    def set(self, key: str, entry: Entry, *, now: float) -> None:
        payload = _HEADER.pack(
            entry.compute_seconds, float("nan") if entry.ttl is None else entry.ttl
        )
        pxat = None if entry.expires_at is None else int(entry.expires_at * 1000)
        self._call("set", self.prefix + key, payload + entry.value, pxat=pxat)

    def touch(self, key: str, expires_at: float | None) -> None:
        if expires_at is None:
            self._call("persist", self.prefix + key)
        else:
            self._call("pexpireat", self.prefix + key, int(expires_at * 1000))

    def delete(self, key: str) -> None:
        self._call("delete", self.prefix + key)

    def clear(self) -> None:
        keys = list(self._client.scan_iter(match=self.prefix + "*"))
        if keys:
            self._call("delete", *keys)
