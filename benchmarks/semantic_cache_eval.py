"""Semantic cache quality and lookup speed on the labelled pairs in ../shared/data/cache-eval.

    python benchmarks/semantic_cache_eval.py [--pairs 6000] [--entries 100000]

For QQP (internal evaluation only: Quora's terms; never shipped) and PAWS, the pairs are split
in two at random (seed 0): the threshold is calibrated at ``--target`` precision on one half and
measured on the other, for a plain cosine threshold and for cosine + the ``same_key_terms``
verifier. The false-hit rate on *novel* questions inserts the first questions of the held-out
QQP pairs into a cache and asks the second questions of *other* held-out pairs: any hit there
serves an answer to a question nobody asked. Lookup latency is ``SemanticCache.lookup`` with
the vector given (embedding time excluded) over ``--entries`` random unit vectors in a FAISS
HNSW index. Needs ``mlcost[semantic]``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import statistics
import time
from pathlib import Path

import numpy as np

from mlcost.cache import MiniLMEmbedder, SemanticCache, calibrate_threshold, same_key_terms
from mlcost.cache.calibrate import sweep
from mlcost.errors import NoFit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cache-eval"


def load_qqp(n: int, rng: random.Random) -> tuple[list[tuple[str, str]], list[int]]:
    with gzip.open(DATA / "qqp_gptcache_full.json.gz", "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    rows = rng.sample(rows, min(n, len(rows)))
    return [(r["text_a"], r["text_b"]) for r in rows], [int(r["label"]) for r in rows]


def load_paws(n: int, rng: random.Random) -> tuple[list[tuple[str, str]], list[int]]:
    rows = []
    for name in ("paws_wiki_labeled_final_dev.tsv", "paws_wiki_labeled_final_test.tsv"):
        with (DATA / name).open(encoding="utf-8", newline="") as fh:
            rows += list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = rng.sample(rows, min(n, len(rows)))
    return [(r[1], r[2]) for r in rows], [int(r[3]) for r in rows]


def at(scores: list[float], labels: list[int], t: float) -> tuple[float, float]:
    hits = [y for s, y in zip(scores, labels, strict=True) if s >= t]
    positives = sum(labels)
    return (sum(hits) / len(hits) if hits else float("nan"), sum(hits) / positives)


def quality(
    name: str, pairs: list[tuple[str, str]], labels: list[int], emb: MiniLMEmbedder, target: float
) -> dict[str, object]:
    start = time.perf_counter()
    a = emb.embed([p[0] for p in pairs])
    b = emb.embed([p[1] for p in pairs])
    embed_s = time.perf_counter() - start
    cos = [float(x) for x in np.einsum("ij,ij->i", a, b)]
    verified = [s if same_key_terms(q, c) else -1.0 for s, (c, q) in zip(cos, pairs, strict=True)]
    half = len(pairs) // 2
    out: dict[str, object] = {"data": name, "pairs": len(pairs), "embed_seconds": round(embed_s, 1)}
    for label, scores in (("cosine", cos), ("cosine+verify", verified)):
        try:
            cal = calibrate_threshold(scores[:half], labels[:half], target_precision=target)
        except NoFit:
            out[label] = "no threshold reaches the target"
            continue
        p, r = at(scores[half:], labels[half:], cal.threshold)
        best_p = max(x[1] for x in sweep(scores[half:], labels[half:])[5:])
        out[label] = {
            "threshold": cal.threshold,
            "precision_held_out": round(p, 3),
            "recall_held_out": round(r, 3),
            "best_precision_at_5_plus_hits": round(best_p, 3),
        }
    out["_vectors"] = (a, b, cos)
    return out


def novel_false_hits(
    pairs: list[tuple[str, str]], vec: tuple[np.ndarray, np.ndarray], threshold: float, verify: bool
) -> float:
    a, b = vec
    n = len(pairs)
    cache = SemanticCache(
        threshold=threshold,
        embedder=_Null(),
        index="faiss",
        verify=same_key_terms if verify else None,
    )
    for i in range(n // 2):
        cache.store(pairs[i][0], i, model="m", vector=a[i])
    hits = 0
    queries = range(n // 2, n)
    for j in queries:  # second questions of other pairs: novel to this cache
        if cache.lookup(pairs[j][1], model="m", vector=b[j]) is not None:
            hits += 1
    return hits / len(queries)


class _Null:
    """Vectors are given to every call; embedding is measured separately."""

    name, dim = "given", 384

    def embed(self, texts: object) -> np.ndarray:
        raise AssertionError("vectors are passed in")


def latency(entries: int, queries: int = 2000) -> dict[str, float]:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(entries, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    cache = SemanticCache(threshold=0.9, embedder=_Null(), index="faiss")
    start = time.perf_counter()
    for i in range(entries):
        cache.store(f"p{i}", i, model="m", vector=vecs[i])
    build = time.perf_counter() - start
    noise = rng.normal(scale=0.02, size=(queries, 384)).astype(np.float32)
    q = vecs[rng.integers(0, entries, queries)] + noise
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    times = []
    found = 0
    for i in range(queries):
        t0 = time.perf_counter()
        hit = cache.lookup(f"q{i}", model="m", vector=q[i])
        times.append((time.perf_counter() - t0) * 1000)
        found += hit is not None
    times.sort()
    return {
        "entries": entries,
        "build_seconds": round(build, 1),
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(times[int(0.99 * len(times)) - 1], 3),
        "hit_rate_near_duplicates": round(found / queries, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--target", type=float, default=0.95)
    args = parser.parse_args()
    rng = random.Random(0)
    emb = MiniLMEmbedder()
    for name, loader in (("QQP", load_qqp), ("PAWS", load_paws)):
        pairs, labels = loader(args.pairs, rng)
        result = quality(name, pairs, labels, emb, args.target)
        a, b, _ = result.pop("_vectors")  # type: ignore[misc]
        if name == "QQP":
            half = len(pairs) // 2
            for label, verify in (("cosine", False), ("cosine+verify", True)):
                cal = result[label]
                if isinstance(cal, dict):
                    held = pairs[half:]
                    rate = novel_false_hits(held, (a[half:], b[half:]), cal["threshold"], verify)
                    cal["novel_false_hit_rate"] = round(rate, 4)
        print(json.dumps(result))
    print(json.dumps(latency(args.entries)))


if __name__ == "__main__":
    main()
