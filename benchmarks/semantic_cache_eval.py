"""Semantic cache quality and lookup speed on labelled QQP and PAWS pairs.

    python benchmarks/semantic_cache_eval.py --data DIR [--pairs 80854] [--entries 100000]
        [--resplits 5]

``DIR`` holds the pairs, which are not in the repository (Quora's terms forbid redistributing
QQP); ``--help`` and the error for a missing file say where to get each one (``SOURCES``).

For QQP (internal evaluation only: Quora's terms; never shipped) and PAWS, the pairs are split
in two at random (seed 0): the threshold is calibrated at ``--target`` precision on one half and
measured on the other, for a plain cosine threshold, for cosine + the ``same_key_terms`` rule
and for cosine + a ``PairVerifier`` fitted on the calibration half (its cutoff chosen out of
fold), each verifier calibrated in the loop with the threshold.
``held_out_recall_at_precision_*`` is the most recall any threshold gets on the held-out half
itself: a ceiling that compares how well the scorings rank, free of calibration noise. The
false-hit rate on *novel* questions inserts the first questions of the held-out QQP pairs
into a cache and asks the second questions of *other* held-out pairs: any hit there serves an
answer to a question nobody asked. ``resplits`` repeats the deployable calibration (learned
trees and plain cosine, at ``--confidence``) on ``--resplits`` other random halves of QQP, to
show how far the held-out figures move with the split. Lookup latency is
``SemanticCache.lookup`` with the vector given (embedding time excluded) over ``--entries``
random unit vectors in a FAISS HNSW index (``--entries 0`` skips it). Needs
``mlcost[semantic]``. Embeddings are kept in ``$XDG_CACHE_HOME/mlcost/semantic_cache_eval``
(default ``~/.cache``): the first run embeds
every QQP and PAWS text (~190,000; about 10 minutes on 2 quiet cores), later runs take about
8 minutes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlcost.cache import (
    MiniLMEmbedder,
    SemanticCache,
    VerifiedCalibration,
    calibrate_learned,
    calibrate_verified,
    same_key_terms,
)
from mlcost.cache.verify import feature_matrix
from mlcost.errors import NoFit

# The files --data must hold, and where to get each (the benchmark ships none of them).
SOURCES = {
    "qqp_gptcache_full.json.gz": (
        "Quora Question Pairs as GPTCache's benchmark has them: zilliztech/GPTCache "
        "examples/benchmark/similiar_qqp_full.json.gz (a tar.gz holding one JSON list of "
        '{"text_a", "text_b", "label"}: unpack it and gzip the JSON under this name). '
        "Quora's terms: internal evaluation only, never redistributed"
    ),
    "paws_wiki_labeled_final_dev.tsv": (
        "PAWS-Wiki Labeled (Final) dev.tsv from google-research-datasets/paws "
        "(https://github.com/google-research-datasets/paws), header row removed"
    ),
    "paws_wiki_labeled_final_test.tsv": "PAWS-Wiki Labeled (Final) test.tsv, header row removed",
}


def data_file(folder: Path, name: str) -> Path:
    """``folder / name``, or exit with where to get it when it is missing."""
    path = folder / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: get {name} from {SOURCES[name]}.")
    return path


def vector_dir() -> Path:
    """Where embeddings are kept between runs: ``$XDG_CACHE_HOME/mlcost/semantic_cache_eval``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlcost" / "semantic_cache_eval"


def embed_cached(emb: MiniLMEmbedder, texts: list[str]) -> np.ndarray:
    """``emb.embed(texts)``, kept on disk by model name + texts (embedding is the slow part)."""
    digest = hashlib.sha256(emb.name.encode())
    for text in texts:
        digest.update(text.encode() + b"\0")
    path = vector_dir() / f"{digest.hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path)
    unique = sorted(set(texts))
    vectors = emb.embed(unique)
    row = {text: i for i, text in enumerate(unique)}
    out = vectors[[row[t] for t in texts]]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)
    return out


def load_qqp(data: Path, n: int, rng: random.Random) -> tuple[list[tuple[str, str]], list[int]]:
    with gzip.open(data_file(data, "qqp_gptcache_full.json.gz"), "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    rows = rng.sample(rows, min(n, len(rows)))
    return [(r["text_a"], r["text_b"]) for r in rows], [int(r["label"]) for r in rows]


def load_paws(data: Path, n: int, rng: random.Random) -> tuple[list[tuple[str, str]], list[int]]:
    rows = []
    for name in ("paws_wiki_labeled_final_dev.tsv", "paws_wiki_labeled_final_test.tsv"):
        with data_file(data, name).open(encoding="utf-8", newline="") as fh:
            rows += list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = rng.sample(rows, min(n, len(rows)))
    return [(r[1], r[2]) for r in rows], [int(r[3]) for r in rows]


def at(served: list[bool], labels: list[int]) -> tuple[float, float]:
    hits = [y for hit, y in zip(served, labels, strict=True) if hit]
    return (sum(hits) / len(hits) if hits else float("nan"), sum(hits) / sum(labels))


def recall_at(scores: list[float], says: list[float], labels: list[int], p: float) -> float:
    """The most recall any threshold (and cutoff) gets at precision ``p`` on these pairs.

    Chosen on the pairs it is reported on, so it is a ceiling, not a deployable figure: it
    compares how well two scorings *rank*, free of calibration noise.
    """
    try:
        return round(calibrate_verified(scores, says, labels, target_precision=p).recall, 3)
    except NoFit:
        return 0.0


def quality(
    name: str,
    pairs: list[tuple[str, str]],
    labels: list[int],
    emb: MiniLMEmbedder,
    target: float,
    confidence: float,
) -> dict[str, object]:
    """Calibrate each scoring on the first half of the pairs, report it on the second half.

    Each scoring is calibrated twice: on the measured precision ("plain") and on its lower
    bound at ``confidence`` (what ``mlcost cache calibrate`` does by default).
    """
    start = time.perf_counter()
    a = embed_cached(emb, [p[0] for p in pairs])
    b = embed_cached(emb, [p[1] for p in pairs])
    embed_s = time.perf_counter() - start
    cos = [float(x) for x in np.einsum("ij,ij->i", a, b)]
    half = len(pairs) // 2
    fit = slice(None, half)
    out: dict[str, object] = {"data": name, "pairs": len(pairs), "embed_seconds": round(embed_s, 1)}
    x = feature_matrix(pairs, cos)
    rule = [float(same_key_terms(q, c)) for c, q in pairs]
    for label, model in (("cosine+learned", "trees"), ("cosine+logistic", "logistic")):
        for conf in (None, confidence):
            key = label if conf is None else f"{label}@{conf:.0%}"
            start = time.perf_counter()
            try:
                # The cutoff is chosen on out-of-fold probabilities of the calibration half.
                verifier, cal = calibrate_learned(
                    pairs[fit],
                    cos[fit],
                    labels[fit],
                    target_precision=target,
                    confidence=conf,
                    model=model,  # type: ignore[arg-type]
                )
            except NoFit:
                out[key] = "no threshold and cutoff reach the target"
                continue
            says = verifier.probabilities(x).tolist()
            out[key] = _measure(cos, says, labels, half, cal, verifier)
            out[key]["fit_seconds"] = round(time.perf_counter() - start, 1)  # type: ignore[index]
    for label, says, verify in (
        ("cosine", [1.0] * len(pairs), None),
        ("cosine+same_key_terms", rule, same_key_terms),
    ):
        for conf in (None, confidence):
            key = label if conf is None else f"{label}@{conf:.0%}"
            try:
                cal = calibrate_verified(
                    cos[fit], says[fit], labels[fit], target_precision=target, confidence=conf
                )
            except NoFit:
                out[key] = "no threshold reaches the target"
                continue
            out[key] = _measure(cos, says, labels, half, cal, verify)
    out["_vectors"] = (a, b, cos)
    return out


def _measure(
    cos: list[float],
    says: list[float],
    labels: list[int],
    half: int,
    cal: VerifiedCalibration,
    verify: Callable[..., bool] | None,
) -> dict[str, object]:
    """What a calibration does on the held-out half, and the ranking ceilings there."""
    served = [s >= cal.threshold and v >= cal.cutoff for s, v in zip(cos, says, strict=True)]
    p, r = at(served[half:], labels[half:])
    return {
        "threshold": cal.threshold,
        "cutoff": cal.cutoff if verify is not None else None,
        "precision_calibration_half": round(cal.precision, 3),
        "precision_held_out": round(p, 3),
        "recall_held_out": round(r, 3),
        "held_out_served": sum(served[half:]),
        "held_out_recall_at_precision_0.90": recall_at(cos[half:], says[half:], labels[half:], 0.9),
        "held_out_recall_at_precision_0.95": recall_at(
            cos[half:], says[half:], labels[half:], 0.95
        ),
        "_verify": verify,
    }


def resplit(
    pairs: list[tuple[str, str]],
    labels: list[int],
    cos: list[float],
    seeds: range,
    target: float,
    confidence: float,
) -> list[dict[str, object]]:
    """Calibration again on other random halves: how far the held-out figures move by split.

    Learned trees and plain cosine, each on the measured precision and on its lower bound.
    """
    x = feature_matrix(pairs, cos)
    out: list[dict[str, object]] = []
    for seed in seeds:
        order = list(range(len(pairs)))
        random.Random(seed).shuffle(order)
        fit, held = order[: len(order) // 2], order[len(order) // 2 :]
        held_labels = [labels[i] for i in held]
        row: dict[str, object] = {"seed": seed}
        for conf in (None, confidence):
            tag = "" if conf is None else f"@{conf:.0%}"
            try:
                verifier, cal = calibrate_learned(
                    [pairs[i] for i in fit],
                    [cos[i] for i in fit],
                    [labels[i] for i in fit],
                    target_precision=target,
                    confidence=conf,
                )
                says = verifier.probabilities(x[held]).tolist()
                row["learned" + tag] = _held_out(cos, held, says, held_labels, cal)
            except NoFit:
                row["learned" + tag] = "no threshold and cutoff reach the target"
            try:
                ones = [1.0] * len(fit)
                fit_cos, fit_labels = [cos[i] for i in fit], [labels[i] for i in fit]
                cal = calibrate_verified(
                    fit_cos, ones, fit_labels, target_precision=target, confidence=conf
                )
                row["cosine" + tag] = _held_out(cos, held, [1.0] * len(held), held_labels, cal)
            except NoFit:
                row["cosine" + tag] = "no threshold reaches the target"
        out.append(row)
    return out


def _held_out(
    cos: list[float],
    held: list[int],
    says: list[float],
    held_labels: list[int],
    cal: VerifiedCalibration,
) -> dict[str, float]:
    served = [cos[i] >= cal.threshold and v >= cal.cutoff for i, v in zip(held, says, strict=True)]
    p, r = at(served, held_labels)
    return {"precision_held_out": round(p, 3), "recall_held_out": round(r, 3)}


def novel_false_hits(
    pairs: list[tuple[str, str]],
    vec: tuple[np.ndarray, np.ndarray],
    threshold: float,
    verify: Callable[..., bool] | None,
) -> float:
    a, b = vec
    n = len(pairs)
    cache = SemanticCache(threshold=threshold, embedder=_Null(), index="faiss", verify=verify)
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
    parser = argparse.ArgumentParser(
        epilog="--data must hold: "
        + "; ".join(f"{name} ({where})" for name, where in SOURCES.items()),
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="folder of the QQP and PAWS pair files"
    )
    parser.add_argument("--pairs", type=int, default=80_854, help="QQP pairs (all by default)")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--confidence", type=float, default=0.9)
    parser.add_argument(
        "--resplits", type=int, default=5, help="QQP: recalibrate on this many other random halves"
    )
    args = parser.parse_args()
    for name in SOURCES:  # before the model loads: a missing file says where to get it
        data_file(args.data, name)
    rng = random.Random(0)
    emb = MiniLMEmbedder()
    for name, loader in (("QQP", load_qqp), ("PAWS", load_paws)):
        pairs, labels = loader(args.data, args.pairs, rng)
        result = quality(name, pairs, labels, emb, args.target, args.confidence)
        a, b, cos = result.pop("_vectors")  # type: ignore[misc]
        half = len(pairs) // 2
        for label in list(result):
            cal = result.get(label)
            if isinstance(cal, dict) and "_verify" in cal:
                verify = cal.pop("_verify")
                if name == "QQP":
                    held = pairs[half:]
                    rate = novel_false_hits(held, (a[half:], b[half:]), cal["threshold"], verify)
                    cal["novel_false_hit_rate"] = round(rate, 4)
        if name == "QQP" and args.resplits > 0:
            seeds = range(1, args.resplits + 1)
            result["resplits"] = resplit(pairs, labels, cos, seeds, args.target, args.confidence)
        print(json.dumps(result))
    if args.entries > 0:
        print(json.dumps(latency(args.entries)))


if __name__ == "__main__":
    main()
