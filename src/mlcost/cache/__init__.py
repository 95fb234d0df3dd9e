"""Caches that make inference cheaper: predictions, intermediate stages, and LLM prompts.

- :class:`PredictionCache`: exact cache of model outputs, keyed by model identity + input;
  backends :class:`MemoryBackend` (LRU by bytes), :class:`SQLiteBackend`, :class:`RedisBackend`.
- :class:`StageCache`: the same for an expensive stage (embeddings), keyed by content hash.
- :class:`SemanticCache`: prompts matched by meaning, per model and tenant, with a cosine
  threshold and an optional verify step; :func:`calibrate_threshold` picks the threshold,
  :func:`calibrate_learned` fits a :class:`TreeVerifier` (or a logistic
  :class:`PairVerifier`) and picks both together; :func:`load_verifier` reads one back.
- Every cache counts hits, misses, time and money saved, and ``report()`` writes them to the
  tracker spool.

Nothing heavy is imported until a cache is built.

    >>> from mlcost.cache import ModelIdentity, PredictionCache
    >>> PredictionCache().get_or_compute(ModelIdentity("id", "1"), 2, lambda: 2)
    2
"""

from __future__ import annotations

from mlcost.cache._keys import ModelIdentity, content_hash, stable_hash
from mlcost.cache.backends import Backend, Entry, MemoryBackend, RedisBackend, SQLiteBackend
from mlcost.cache.calibrate import (
    Calibration,
    VerifiedCalibration,
    calibrate_learned,
    calibrate_threshold,
    calibrate_verified,
    read_pairs,
    score_pairs,
)
from mlcost.cache.prediction import UNSET, PredictionCache, StageCache, Unset
from mlcost.cache.semantic import (
    Embedder,
    ExactIndex,
    FaissIndex,
    HashingEmbedder,
    MiniLMEmbedder,
    SemanticCache,
    SemanticHit,
    VectorIndex,
    same_key_terms,
)
from mlcost.cache.stats import CacheStats, Money, spool_dir, write_stats
from mlcost.cache.verify import (
    PairVerifier,
    TreeVerifier,
    fit_tree_verifier,
    fit_verifier,
    load_verifier,
)

__all__ = [
    "UNSET",
    "Backend",
    "CacheStats",
    "Calibration",
    "Embedder",
    "Entry",
    "ExactIndex",
    "FaissIndex",
    "HashingEmbedder",
    "MemoryBackend",
    "MiniLMEmbedder",
    "ModelIdentity",
    "Money",
    "PairVerifier",
    "PredictionCache",
    "RedisBackend",
    "SQLiteBackend",
    "SemanticCache",
    "SemanticHit",
    "StageCache",
    "TreeVerifier",
    "Unset",
    "VectorIndex",
    "VerifiedCalibration",
    "calibrate_learned",
    "calibrate_threshold",
    "calibrate_verified",
    "content_hash",
    "fit_tree_verifier",
    "fit_verifier",
    "load_verifier",
    "read_pairs",
    "same_key_terms",
    "score_pairs",
    "spool_dir",
    "stable_hash",
    "write_stats",
]
