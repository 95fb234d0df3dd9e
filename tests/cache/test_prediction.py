"""PredictionCache: every TTL case, sliding only when asked, single flight, decorator, streams."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from mlcost.cache import MemoryBackend, ModelIdentity, PredictionCache, SQLiteBackend, StageCache
from mlcost.errors import InvalidInput
from tests.cache.conftest import FakeClock

MODEL = ModelIdentity("sentiment", "2024-06-01", temperature=0.0)


class Counter:
    """A model whose every call is counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, value: Any = "out") -> Any:
        self.calls += 1
        return value


@pytest.fixture(params=["memory", "sqlite"])
def make_cache(request: pytest.FixtureRequest, tmp_path: Any, clock: FakeClock) -> Any:
    def make(**kw: Any) -> PredictionCache:
        backend = MemoryBackend() if request.param == "memory" else SQLiteBackend(tmp_path / "c.db")
        return PredictionCache(backend, clock=clock, **kw)

    return make


def test_ttl_none_never_expires(make_cache: Any, clock: FakeClock) -> None:
    cache, model = make_cache(default_ttl=5), Counter()
    cache.get_or_compute(MODEL, "x", model, ttl=None)
    clock.advance(10 * 365 * 86400)
    cache.get_or_compute(MODEL, "x", model, ttl=None)
    assert model.calls == 1


@pytest.mark.parametrize("zero", [0, 0.0, timedelta(0)])
def test_ttl_zero_expires_immediately_not_unset(make_cache: Any, zero: Any) -> None:
    # Zero is a value, not "unset": with a default of one hour, ttl=0 still keeps nothing
    # (RedisVL #649: distance_threshold=0 was dropped by an `or`).
    cache, model = make_cache(default_ttl=3600), Counter()
    cache.get_or_compute(MODEL, "x", model, ttl=zero)
    cache.get_or_compute(MODEL, "x", model, ttl=zero)
    assert model.calls == 2
    assert cache.stats().hits == 0


def test_ttl_omitted_uses_the_configured_default(make_cache: Any, clock: FakeClock) -> None:
    cache, model = make_cache(default_ttl=60), Counter()
    cache.get_or_compute(MODEL, "x", model)
    clock.advance(59.9)
    cache.get_or_compute(MODEL, "x", model)
    assert model.calls == 1
    clock.advance(0.1)  # exactly at expiry: gone
    cache.get_or_compute(MODEL, "x", model)
    assert model.calls == 2


def test_default_ttl_none_means_never(make_cache: Any, clock: FakeClock) -> None:
    cache, model = make_cache(), Counter()  # default_ttl=None
    cache.get_or_compute(MODEL, "x", model)
    clock.advance(1e9)
    cache.get_or_compute(MODEL, "x", model)
    assert model.calls == 1


def test_a_hit_does_not_extend_the_ttl(make_cache: Any, clock: FakeClock) -> None:
    # RedisVL #603: hits silently slid the TTL, so popular stale answers never expired.
    cache, model = make_cache(default_ttl=10), Counter()
    cache.get_or_compute(MODEL, "x", model)
    for _ in range(9):
        clock.advance(1)
        cache.get_or_compute(MODEL, "x", model)
    clock.advance(1)  # 10 s after the store, however many hits
    cache.get_or_compute(MODEL, "x", model)
    assert model.calls == 2


def test_sliding_extends_only_when_asked(make_cache: Any, clock: FakeClock) -> None:
    cache, model = make_cache(default_ttl=10), Counter()
    cache.get_or_compute(MODEL, "x", model)
    for _ in range(5):
        clock.advance(8)
        cache.get_or_compute(MODEL, "x", model, sliding=True)
    assert model.calls == 1
    slider = make_cache(default_ttl=10, sliding=True)
    slider.get_or_compute(MODEL, "y", model)
    clock.advance(8)
    slider.get_or_compute(MODEL, "y", model)
    clock.advance(8)
    slider.get_or_compute(MODEL, "y", model)
    assert model.calls == 2


@pytest.mark.parametrize("bad", [-1, float("nan"), True, timedelta(seconds=-1)])
def test_bad_ttls_are_refused_with_the_way_out(bad: Any) -> None:
    with pytest.raises(InvalidInput, match=r"None|bool"):
        PredictionCache().get_or_compute(MODEL, "x", Counter(), ttl=bad)


def test_key_covers_model_version_and_output_changing_params() -> None:
    model = Counter()
    cache = PredictionCache()
    cache.get_or_compute(MODEL, "x", model)
    cache.get_or_compute(ModelIdentity("sentiment", "2024-07-01", temperature=0.0), "x", model)
    cache.get_or_compute(ModelIdentity("sentiment", "2024-06-01", temperature=0.7), "x", model)
    cache.get_or_compute(MODEL, {"text": "x"}, model)
    assert model.calls == 4
    # dict order does not matter; 1 and 1.0 are different inputs
    assert PredictionCache.key(MODEL, {"a": 1, "b": 2}) == PredictionCache.key(
        MODEL, {"b": 2, "a": 1}
    )
    assert PredictionCache.key(MODEL, 1) != PredictionCache.key(MODEL, 1.0)


def test_numpy_inputs_key_by_dtype_shape_and_bytes() -> None:
    import numpy as np

    a = np.arange(6, dtype=np.float32)
    assert PredictionCache.key(MODEL, a) == PredictionCache.key(MODEL, a.copy())
    assert PredictionCache.key(MODEL, a) != PredictionCache.key(MODEL, a.reshape(2, 3))
    assert PredictionCache.key(MODEL, a) != PredictionCache.key(MODEL, a.astype(np.float64))


def test_unhashable_input_says_what_to_do() -> None:
    with pytest.raises(InvalidInput, match="key="):
        PredictionCache.key(MODEL, object())


def test_concurrent_misses_for_one_key_compute_once() -> None:
    cache = PredictionCache()
    calls = 0
    release = threading.Event()
    lock = threading.Lock()

    def slow() -> str:
        nonlocal calls
        with lock:
            calls += 1
        release.wait(10)
        return "done"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute(MODEL, "k", slow)))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    # Let every thread reach the cache before the computation ends.
    while sum(t.is_alive() for t in threads) < 16 and calls == 0:
        time.sleep(0.001)
    time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(10)
    assert calls == 1
    assert results == ["done"] * 16
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (15, 1)


def test_a_failed_computation_is_not_cached_and_reaches_waiters() -> None:
    cache = PredictionCache()

    def boom() -> str:
        raise RuntimeError("model down")

    with pytest.raises(RuntimeError, match="model down"):
        cache.get_or_compute(MODEL, "k", boom)
    assert cache.get_or_compute(MODEL, "k", lambda: "ok") == "ok"


def test_distinct_keys_compute_in_parallel() -> None:
    # Single flight is per key: a slow key must not block another one.
    cache = PredictionCache()
    gate = threading.Event()
    t = threading.Thread(target=lambda: cache.get_or_compute(MODEL, "slow", lambda: gate.wait(10)))
    t.start()
    assert cache.get_or_compute(MODEL, "fast", lambda: 1) == 1
    gate.set()
    t.join(10)


def test_decorator_caches_by_arguments() -> None:
    cache = PredictionCache()
    model = Counter()

    @cache.cached(MODEL)
    def predict(text: str, *, lang: str = "en") -> str:
        return str(model(text + lang))

    assert predict("a") == predict("a") == "aen"
    assert predict("a", lang="de") == "ade"
    assert model.calls == 2


def test_stream_is_cached_after_full_consumption_and_replayed() -> None:
    # Streaming paths that bypass the cache were a reported failure; here they go through it.
    cache = PredictionCache()
    model = Counter()

    def tokens() -> Any:
        model()
        yield from ["Hel", "lo", "!"]

    assert list(cache.stream(MODEL, "hi", tokens)) == ["Hel", "lo", "!"]
    assert list(cache.stream(MODEL, "hi", tokens)) == ["Hel", "lo", "!"]
    assert model.calls == 1
    assert cache.stats().hits == 1


def test_an_abandoned_stream_is_not_stored() -> None:
    cache = PredictionCache()
    stream = cache.stream(MODEL, "hi", lambda: iter(["a", "b", "c"]))
    assert next(stream) == "a"
    stream.close()
    assert list(cache.stream(MODEL, "hi", lambda: iter(["x"]))) == ["x"]


def test_stage_cache_computes_only_misses_in_one_batch() -> None:
    batches: list[list[Any]] = []

    def embed(items: list[Any]) -> list[int]:
        batches.append(items)
        return [len(i) for i in items]

    stage = StageCache(ModelIdentity("minilm", "v1"))
    assert stage.map(["aa", "b", "aa"], embed) == [2, 1, 2]
    assert stage.map(["b", "ccc"], embed) == [1, 3]
    assert batches == [["aa", "b"], ["ccc"]]
    # A new stage version never serves the old outputs.
    other = StageCache(ModelIdentity("minilm", "v2"), backend=stage.backend)
    assert other.map(["b"], lambda xs: [-1 for _ in xs]) == [-1]
    with pytest.raises(InvalidInput, match="one output per input"):
        other.map(["zz", "yy"], lambda xs: [1])


def test_stage_cache_single_item() -> None:
    stage = StageCache("tokenize")
    model = Counter()
    assert stage.get(b"\x00bytes", lambda: model([1, 2])) == [1, 2]
    assert stage.get(b"\x00bytes", lambda: model([9])) == [1, 2]
    assert model.calls == 1
