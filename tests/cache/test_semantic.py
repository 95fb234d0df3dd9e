"""SemanticCache against the failure modes users report of GPTCache and RedisVL.

Near-topic wrong hits (GPTCache #388, #694), threshold units and direction (GPTCache #578,
RedisVL #407), zero treated as unset (GPTCache #595, RedisVL #649), sliding TTLs (RedisVL #603),
and cross-tenant leaks. Most tests use the offline HashingEmbedder so they need no model; one
loads the packaged MiniLM.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from mlcost.cache import (
    ExactIndex,
    FaissIndex,
    HashingEmbedder,
    MiniLMEmbedder,
    SemanticCache,
    same_key_terms,
)
from mlcost.errors import InvalidInput
from tests.cache.conftest import FakeClock

EMB = HashingEmbedder()


def make(threshold: float = 0.8, **kw: Any) -> SemanticCache:
    kw.setdefault("embedder", EMB)
    kw.setdefault("index", "exact")
    return SemanticCache(threshold=threshold, **kw)


@pytest.mark.parametrize("bad", [1.5, -1.01, 95, float("nan"), "0.9", None, True])
def test_threshold_must_be_a_cosine_similarity(bad: Any) -> None:
    with pytest.raises(InvalidInput, match=r"\[-1, 1\]|not a number"):
        make(threshold=bad)


def test_threshold_direction_higher_is_stricter() -> None:
    # GPTCache #578: the docs had the direction backwards. Here 1.0 = identical only.
    strict, loose = make(1.0), make(-1.0)
    for cache in (strict, loose):
        cache.store("reset my password", "A", model="m")
    assert strict.lookup("how to reset my password", model="m") is None
    assert loose.lookup("completely unrelated words", model="m") is not None
    # An identical prompt (modulo spacing and case) hits even at 1.0.
    assert strict.lookup("  Reset my  PASSWORD ", model="m") is not None


def test_threshold_zero_is_zero_not_unset() -> None:
    # GPTCache #595 / RedisVL #649: 0 silently became the default.
    cache = make(0.0)
    assert cache.threshold == 0.0
    cache.store("alpha beta gamma", "A", model="m")
    hit = cache.lookup("alpha beta delta", model="m")
    assert hit is not None and hit.similarity >= 0.0


def test_scoped_by_model_and_tenant() -> None:
    cache = make(0.5)
    cache.store("what is our refund policy", "tenant A policy", model="gpt", tenant="a")
    assert cache.lookup("what is our refund policy", model="gpt", tenant="b") is None
    assert cache.lookup("what is our refund policy", model="gpt") is None
    assert cache.lookup("what is our refund policy", model="llama", tenant="a") is None
    assert cache.lookup("what is our refund policy", model="gpt", tenant="a") is not None
    with pytest.raises(InvalidInput, match="model"):
        cache.lookup("x", model="")


def test_verify_rejects_near_topic_wrong_hits() -> None:
    # GPTCache #694: a question and its reversal, or another number, score far above 0.8.
    loose = make(0.6)
    checked = make(0.6, verify=same_key_terms)
    for cache in (loose, checked):
        cache.store("What are the top 5 GPUs for inference?", "five GPUs", model="m")
        cache.store(
            "Is it safe to run spot instances for training?", "yes, with checkpoints", model="m"
        )
    assert loose.lookup("What are the top 10 GPUs for inference?", model="m") is not None
    assert checked.lookup("What are the top 10 GPUs for inference?", model="m") is None
    assert checked.lookup("Is it not safe to run spot instances for training?", model="m") is None
    assert checked.rejected == 2
    hit = checked.lookup("what are the top 5 GPUs for inference", model="m")
    assert hit is not None and hit.answer == "five GPUs"


def test_verify_callback_sees_candidate_and_can_fall_through() -> None:
    seen: list[tuple[str, str, Any]] = []

    def verify(prompt: str, cached: str, answer: Any) -> bool:
        seen.append((prompt, cached, answer))
        return answer != "bad"

    cache = make(0.3, verify=verify)
    cache.store("reset password steps", "bad", model="m")
    cache.store("reset password guide", "good", model="m")
    hit = cache.lookup("reset password", model="m")
    assert hit is not None and hit.answer == "good"
    assert {s[2] for s in seen} <= {"bad", "good"}


def test_ttl_cases_and_no_sliding(clock: FakeClock) -> None:
    cache = make(0.9, clock=clock, default_ttl=10)
    cache.store("never", "N", model="m", ttl=None)
    cache.store("zero", "Z", model="m", ttl=0)
    cache.store("default", "D", model="m")
    assert cache.lookup("zero", model="m") is None
    for _ in range(9):
        clock.advance(1)
        assert cache.lookup("default", model="m") is not None  # hits don't slide
    clock.advance(1)
    assert cache.lookup("default", model="m") is None
    clock.advance(1e9)
    assert cache.lookup("never", model="m") is not None
    assert len(cache) == 1  # the expired entry left the index


def test_get_or_compute_counts_and_single_flights() -> None:
    cache = make(0.8, cost_per_prediction=None, usd_per_hour=3.6)
    calls = 0
    gate = threading.Event()

    def llm() -> str:
        nonlocal calls
        calls += 1
        gate.wait(10)
        return "answer"

    threads = [
        threading.Thread(
            target=lambda: cache.get_or_compute("Explain spot pricing", llm, model="m")
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    while calls == 0:
        threading.Event().wait(0.001)
    threading.Event().wait(0.05)
    gate.set()
    for t in threads:
        t.join(10)
    assert calls == 1
    assert cache.get_or_compute("explain spot pricing", llm, model="m") == "answer"
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (8, 1)
    assert stats.saved is not None and stats.saved.currency == "USD"


@pytest.mark.parametrize("index", ["exact", "faiss"])
def test_indexes_find_the_nearest_and_skip_removed(index: str) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    idx = ExactIndex(32) if index == "exact" else FaissIndex(32)
    idx.add(list(range(500)), vectors)
    best = idx.search(vectors[42], 3)
    assert best[0][0] == 42 and best[0][1] == pytest.approx(1.0, abs=1e-5)
    idx.remove([42])
    assert all(i != 42 for i, _ in idx.search(vectors[42], 3))
    idx.remove(list(range(300)))  # more removed than live: FAISS rebuilds
    assert len(idx) == 200
    assert idx.search(vectors[450], 1)[0][0] == 450


def test_minilm_embedder_is_offline_and_matches_paraphrases() -> None:
    emb = MiniLMEmbedder()
    v = emb.embed(
        [
            "How do I reset my password?",
            "How can I change my password?",
            "What is the capital of France?",
        ]
    )
    assert v.shape == (3, 384)
    sims = v @ v.T
    assert sims[0, 1] > 0.7 > 0.3 > sims[0, 2]
    cache = SemanticCache(threshold=0.7, embedder=emb)
    cache.store("How do I reset my password?", "Settings > Security", model="m")
    hit = cache.lookup("How can I change my password?", model="m")
    assert hit is not None and hit.answer == "Settings > Security"
