"""Prediction cache: don't compute what was already computed.

A key is a stable hash of the model identity (name + version + the parameters that change
outputs) and the canonical input. TTL has three distinct states (STYLE.md rule 6):

- ``ttl=None``: never expires;
- ``ttl=0`` (or ``timedelta(0)``): expires immediately, so the value is computed, returned and
  not kept;
- ``ttl`` omitted: the cache's ``default_ttl``.

A hit does not extend an entry's life unless the cache (or the call) says ``sliding=True``.
Concurrent misses for one key in one process compute once (single flight): the others wait
for that result, or for its exception.

    >>> cache = PredictionCache(name="square")
    >>> model = ModelIdentity("square", "1")
    >>> cache.get_or_compute(model, 4, lambda: 16)
    16
    >>> cache.get_or_compute(model, 4, lambda: 0)   # served from the cache
    16
    >>> (cache.stats().hits, cache.stats().misses)
    (1, 1)
"""

from __future__ import annotations

import functools
import math
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeVar

from mlcost.cache._keys import ModelIdentity, content_hash, stable_hash
from mlcost.cache.backends import Backend, Entry, MemoryBackend
from mlcost.cache.stats import CacheStats, Money, write_stats
from mlcost.errors import InvalidInput

__all__ = [
    "TTL",
    "UNSET",
    "Ledger",
    "PredictionCache",
    "SingleFlight",
    "StageCache",
    "Unset",
    "ttl_seconds",
]

T = TypeVar("T")
P = ParamSpec("P")


class Unset(Enum):
    """The type of :data:`UNSET`: "not given", distinct from ``None`` and from ``0``."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
TTL = float | int | timedelta | None


def ttl_seconds(ttl: TTL) -> float | None:
    """``None`` stays ``None`` (never expires); numbers are seconds; negatives are refused."""
    if ttl is None:
        return None
    if isinstance(ttl, bool):
        raise InvalidInput(
            f"ttl={ttl!r} is a bool", fix="give seconds, a timedelta, or None for never"
        )
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    if math.isnan(seconds) or seconds < 0:
        raise InvalidInput(
            f"ttl must be zero or more seconds, got {ttl!r}",
            fix="use None for 'never expires' and 0 for 'expires immediately'",
        )
    return seconds


@dataclass
class _Flight:
    done: threading.Event
    value: Any = None
    error: BaseException | None = None


class SingleFlight:
    """Concurrent calls for one key run ``compute`` once; the others wait for its outcome."""

    def __init__(self) -> None:
        self._flights: dict[Any, _Flight] = {}
        self._lock = threading.Lock()

    def run(self, key: Any, compute: Callable[[], T]) -> tuple[T, bool]:
        """``(value, True)`` for the caller that computed, ``(value, False)`` for waiters."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight(threading.Event())
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            waited: T = flight.value
            return waited, False
        try:
            flight.value = compute()
            return flight.value, True
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()


class Ledger:
    """Thread-safe counters behind :class:`~mlcost.cache.stats.CacheStats`."""

    def __init__(
        self, name: str, cost_per_prediction: Money | None, usd_per_hour: float | None
    ) -> None:
        if cost_per_prediction is not None and usd_per_hour is not None:
            raise InvalidInput(
                "both cost_per_prediction and usd_per_hour given",
                fix="give one: a cost per prediction, or an hourly cost of the serving hardware",
            )
        self.name = name
        self.cost_per_prediction = cost_per_prediction
        self.usd_per_hour = usd_per_hour
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self.saved_seconds = self.computed_seconds = 0.0

    def count(self, *, hit: bool, seconds: float) -> None:
        with self._lock:
            if hit:
                self.hits += 1
                self.saved_seconds += seconds
            else:
                self.misses += 1
                self.computed_seconds += seconds

    def stats(self) -> CacheStats:
        with self._lock:
            hits, misses = self.hits, self.misses
            saved_s, computed_s = self.saved_seconds, self.computed_seconds
        saved: Money | None = None
        if self.cost_per_prediction is not None:
            saved = Money(self.cost_per_prediction.amount * hits, self.cost_per_prediction.currency)
        elif self.usd_per_hour is not None:
            saved = Money(Decimal(repr(self.usd_per_hour)) * Decimal(repr(saved_s)) / 3600, "USD")
        return CacheStats(self.name, hits, misses, saved_s, computed_s, saved)


class PredictionCache:
    """Cache of model outputs over a :class:`~mlcost.cache.backends.Backend`.

    ``cost_per_prediction`` (money one computation costs, e.g. from attribution) or
    ``usd_per_hour`` (what the serving hardware costs; savings then follow from the measured
    compute time) turns hits into money saved. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        name: str = "predictions",
        default_ttl: TTL = None,
        sliding: bool = False,
        cost_per_prediction: Money | None = None,
        usd_per_hour: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend: Backend = backend if backend is not None else MemoryBackend()
        self.name = name
        self.default_ttl = ttl_seconds(default_ttl)
        self.sliding = sliding
        self.clock = clock
        self.ledger = Ledger(name, cost_per_prediction, usd_per_hour)
        self._flight = SingleFlight()

    # -- keys ---------------------------------------------------------------------------

    @staticmethod
    def key(model: ModelIdentity | str, inputs: Any) -> str:
        """The cache key of ``inputs`` for ``model`` (a :class:`ModelIdentity` or a fingerprint)."""
        fingerprint = model.fingerprint if isinstance(model, ModelIdentity) else model
        return stable_hash(["prediction", fingerprint, inputs])

    # -- lookups --------------------------------------------------------------------------

    def _resolve(self, ttl: TTL | Unset) -> float | None:
        return self.default_ttl if ttl is UNSET else ttl_seconds(ttl)

    def lookup(self, key: str, *, sliding: bool | None = None) -> Entry | None:
        """The live entry for ``key`` (no statistics counted)."""
        now = self.clock()
        entry = self.backend.get(key, now=now)
        slide = self.sliding if sliding is None else sliding
        if entry is not None and slide and entry.ttl is not None:
            self.backend.touch(key, now + entry.ttl)
        return entry

    def store(
        self, key: str, value: Any, *, ttl: TTL | Unset = UNSET, seconds: float = 0.0
    ) -> bool:
        """Keep ``value`` under ``key``; returns False when its TTL is 0 (nothing kept)."""
        life = self._resolve(ttl)
        if life == 0:
            self.backend.delete(key)
            return False
        now = self.clock()
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        expires = None if life is None else now + life
        self.backend.set(key, Entry(data, expires, life, seconds), now=now)
        return True

    def get_or_compute_key(
        self,
        key: str,
        compute: Callable[[], T],
        *,
        ttl: TTL | Unset = UNSET,
        sliding: bool | None = None,
    ) -> T:
        """The value under ``key``, computing (once, across threads) on a miss."""
        self._resolve(ttl)  # refuse a bad TTL before doing any work
        entry = self.lookup(key, sliding=sliding)
        if entry is not None:
            self.ledger.count(hit=True, seconds=entry.compute_seconds)
            value: T = pickle.loads(entry.value)
            return value

        def leader() -> T:
            start = time.perf_counter()
            result = compute()
            seconds = time.perf_counter() - start
            self.store(key, result, ttl=ttl, seconds=seconds)
            self.ledger.count(hit=False, seconds=seconds)
            return result

        value, computed = self._flight.run(key, leader)
        if not computed:
            # Waiting for another caller's computation is a hit: nothing was recomputed.
            self.ledger.count(hit=True, seconds=0.0)
        return value

    def get_or_compute(
        self,
        model: ModelIdentity | str,
        inputs: Any,
        compute: Callable[[], T],
        *,
        ttl: TTL | Unset = UNSET,
        sliding: bool | None = None,
    ) -> T:
        """The prediction of ``model`` for ``inputs``; ``compute()`` runs only on a miss."""
        return self.get_or_compute_key(self.key(model, inputs), compute, ttl=ttl, sliding=sliding)

    def cached(
        self,
        model: ModelIdentity | str,
        *,
        ttl: TTL | Unset = UNSET,
        key: Callable[..., Any] | None = None,
    ) -> Callable[[Callable[P, T]], Callable[P, T]]:
        """Decorator: cache a predict function by its arguments (or by ``key(*args, **kw)``).

        >>> cache = PredictionCache()
        >>> @cache.cached(ModelIdentity("upper", "1"))
        ... def predict(text: str) -> str:
        ...     return text.upper()
        >>> predict("a"), predict("a"), cache.stats().hits
        ('A', 'A', 1)
        """

        def wrap(fn: Callable[P, T]) -> Callable[P, T]:
            @functools.wraps(fn)
            def inner(*args: P.args, **kwargs: P.kwargs) -> T:
                inputs = key(*args, **kwargs) if key is not None else [list(args), kwargs]
                return self.get_or_compute(model, inputs, lambda: fn(*args, **kwargs), ttl=ttl)

            return inner

        return wrap

    def stream(
        self,
        model: ModelIdentity | str,
        inputs: Any,
        produce: Callable[[], Iterable[T]],
        *,
        ttl: TTL | Unset = UNSET,
    ) -> Iterator[T]:
        """A streamed prediction (LLM tokens) that goes through the cache too.

        On a hit the stored chunks are replayed; on a miss the chunks are passed through as they
        come and stored once the stream is fully consumed (a stream abandoned half-way is not
        stored: it would replay a truncated answer). Streams are not single-flight.
        """
        key = self.key(model, inputs)
        self._resolve(ttl)
        entry = self.lookup(key)
        if entry is not None:
            self.ledger.count(hit=True, seconds=entry.compute_seconds)
            chunks: list[T] = pickle.loads(entry.value)
            yield from chunks
            return
        start = time.perf_counter()
        seen: list[T] = []
        for chunk in produce():
            seen.append(chunk)
            yield chunk
        seconds = time.perf_counter() - start
        self.store(key, seen, ttl=ttl, seconds=seconds)
        self.ledger.count(hit=False, seconds=seconds)

    # -- accounting -----------------------------------------------------------------------

    def stats(self) -> CacheStats:
        """Hits, misses, seconds saved and money saved so far."""
        return self.ledger.stats()

    def report(self, *, run_id: str | None = None, spool: str | Path | None = None) -> Path:
        """Write :meth:`stats` to the tracker spool (see :mod:`mlcost.cache.stats`)."""
        return write_stats(self.stats(), run_id=run_id, spool=spool)


class StageCache(PredictionCache):
    """Cache for an expensive intermediate stage (embeddings before a classifier).

    Keyed by the content hash of each item and the stage's fingerprint (a
    :class:`ModelIdentity` of the embedder, say), so a new embedder version never serves old
    vectors. :meth:`map` computes only the misses, in one batch call.

        >>> stage = StageCache(ModelIdentity("embed", "v1"))
        >>> stage.map(["a", "b"], lambda xs: [len(x) for x in xs])
        [1, 1]
        >>> stage.map(["a", "c"], lambda xs: [len(x) * 10 for x in xs])  # "a" is cached
        [1, 10]
    """

    def __init__(
        self, stage: ModelIdentity | str, backend: Backend | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("name", stage.name if isinstance(stage, ModelIdentity) else stage)
        super().__init__(backend, **kwargs)
        self.stage = stage.fingerprint if isinstance(stage, ModelIdentity) else stage

    def item_key(self, item: bytes | str) -> str:
        return stable_hash(["stage", self.stage, content_hash(item)])

    def get(self, item: bytes | str, compute: Callable[[], T], *, ttl: TTL | Unset = UNSET) -> T:
        """The stage output for one item."""
        return self.get_or_compute_key(self.item_key(item), compute, ttl=ttl)

    def map(
        self,
        items: Sequence[bytes | str],
        compute_batch: Callable[[list[bytes | str]], Sequence[T]],
        *,
        ttl: TTL | Unset = UNSET,
    ) -> list[T]:
        """Outputs for ``items`` in order; ``compute_batch`` sees only the misses, once each."""
        keys = [self.item_key(item) for item in items]
        out: dict[str, T] = {}
        todo: dict[str, bytes | str] = {}
        for key, item in zip(keys, items, strict=True):
            if key in out or key in todo:
                continue
            entry = self.lookup(key)
            if entry is None:
                todo[key] = item
            else:
                self.ledger.count(hit=True, seconds=entry.compute_seconds)
                out[key] = pickle.loads(entry.value)
        if todo:
            start = time.perf_counter()
            results = list(compute_batch(list(todo.values())))
            if len(results) != len(todo):
                raise InvalidInput(
                    f"compute_batch returned {len(results)} outputs for {len(todo)} inputs",
                    fix="return exactly one output per input, in order",
                )
            per_item = (time.perf_counter() - start) / len(todo)
            for key, result in zip(todo, results, strict=True):
                self.store(key, result, ttl=ttl, seconds=per_item)
                self.ledger.count(hit=False, seconds=per_item)
                out[key] = result
        return [out[key] for key in keys]
