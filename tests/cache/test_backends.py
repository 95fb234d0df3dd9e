"""Backends: LRU eviction by bytes, and SQLite / Redis persistence across processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcost.cache import Entry, MemoryBackend, ModelIdentity, PredictionCache, RedisBackend
from mlcost.errors import CacheError, InvalidInput


def _entry(size: int) -> Entry:
    return Entry(b"x" * size, expires_at=None, ttl=None, compute_seconds=0.0)


def test_memory_backend_evicts_least_recently_used_by_bytes() -> None:
    backend = MemoryBackend(max_bytes=300)
    for key in ("a", "b", "c"):
        backend.set(key, _entry(99), now=0)  # 1 + 99 bytes each: exactly full
    assert backend.bytes_used == 300
    backend.get("a", now=0)  # "a" is now the most recent
    backend.set("d", _entry(149), now=0)  # needs 150: evicts "b" then "c"
    assert backend.get("b", now=0) is None
    assert backend.get("c", now=0) is None
    assert backend.get("a", now=0) is not None
    assert backend.bytes_used == 250
    assert backend.evictions == 2


def test_memory_backend_counts_bytes_not_entries() -> None:
    backend = MemoryBackend(max_bytes=1_000)
    for i in range(100):
        backend.set(f"k{i:02d}", _entry(7), now=0)  # 3 + 7 = 10 bytes each
    assert len(backend) == 100
    backend.set("big", _entry(500), now=0)
    assert len(backend) == 50  # 49 small (490 bytes) + 503: 51 evicted
    assert backend.bytes_used == 993


def test_memory_backend_drops_expired_before_live_and_refuses_oversize() -> None:
    backend = MemoryBackend(max_bytes=200)
    backend.set("old", Entry(b"x" * 97, expires_at=5.0, ttl=5, compute_seconds=0), now=0)
    backend.set("live", _entry(96), now=0)
    backend.set("new", _entry(97), now=10)  # "old" has expired: it goes, "live" stays
    assert backend.get("live", now=10) is not None
    assert backend.evictions == 0
    backend.set("huge", _entry(500), now=10)
    assert backend.too_large == 1 and backend.get("huge", now=10) is None
    with pytest.raises(InvalidInput):
        MemoryBackend(max_bytes=0)


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.strip()


WRITER = """
from mlcost.cache import {backend}, ModelIdentity, PredictionCache
cache = PredictionCache({backend}({arg!r}))
print(cache.get_or_compute(ModelIdentity("m", "1"), "x", lambda: "from process one"))
"""


def test_sqlite_persists_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    assert _run(WRITER.format(backend="SQLiteBackend", arg=str(path))) == "from process one"
    reader = WRITER.replace("from process one", "recomputed")
    assert _run(reader.format(backend="SQLiteBackend", arg=str(path))) == "from process one"


def test_sqlite_purges_expired_rows(tmp_path: Path) -> None:
    from mlcost.cache import SQLiteBackend

    backend = SQLiteBackend(tmp_path / "c.db")
    backend.set("a", Entry(b"1", expires_at=10.0, ttl=10, compute_seconds=0), now=0)
    backend.set("b", _entry(1), now=0)
    assert backend.purge_expired(now=11) == 1
    assert backend.get("b", now=11) is not None


def test_sqlite_unwritable_path_says_what_to_check(tmp_path: Path) -> None:
    from mlcost.cache import SQLiteBackend

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheError, match="writable"):
        SQLiteBackend(blocker / "c.db")


def test_redis_persists_across_processes(redis_url: str) -> None:
    RedisBackend(redis_url, prefix="xproc:").clear()
    code = WRITER.replace("{backend}({arg!r})", "{backend}({arg!r}, prefix='xproc:')")
    assert _run(code.format(backend="RedisBackend", arg=redis_url)) == "from process one"
    reader = code.replace("from process one", "recomputed")
    assert _run(reader.format(backend="RedisBackend", arg=redis_url)) == "from process one"


def test_redis_ttl_cases_are_server_side_expiries(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    backend = RedisBackend(redis_url, prefix="ttl:")
    backend.clear()
    cache = PredictionCache(backend, default_ttl=3600)
    model = ModelIdentity("m", "1")
    cache.get_or_compute(model, "never", lambda: 1, ttl=None)
    cache.get_or_compute(model, "default", lambda: 2)
    cache.get_or_compute(model, "zero", lambda: 3, ttl=0)
    key = {n: "ttl:" + cache.key(model, n) for n in ("never", "default", "zero")}
    assert client.pttl(key["never"]) == -1  # no expiry
    assert 3_500_000 < client.pttl(key["default"]) <= 3_600_000
    assert client.exists(key["zero"]) == 0  # nothing kept
    # A hit does not move the expiry...
    before = client.pexpiretime(key["default"])
    assert cache.get_or_compute(model, "default", lambda: -1) == 2
    assert client.pexpiretime(key["default"]) == before
    # ...unless asked; the entry's own TTL is what slides.
    time.sleep(0.01)  # not a timing assertion: only makes "now" move past the store time
    cache.get_or_compute(model, "default", lambda: -1, sliding=True)
    assert client.pexpiretime(key["default"]) > before


def test_redis_unreachable_says_how_to_check() -> None:
    backend = RedisBackend("redis://127.0.0.1:1/0")
    with pytest.raises(CacheError, match="redis-cli"):
        backend.get("k", now=0)


def test_redis_errors_never_show_the_password() -> None:
    backend = RedisBackend("redis://cache:hunter2@127.0.0.1:1/0")
    with pytest.raises(CacheError, match=r"redis://cache:…@127\.0\.0\.1:1/0") as err:
        backend.get("k", now=0)
    assert "hunter2" not in str(err.value)
