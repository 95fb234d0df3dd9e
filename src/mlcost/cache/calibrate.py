"""Pick a semantic-cache threshold from the user's own labelled pairs.

Each pair is ``(cached prompt, new prompt, label)``; label 1 means serving the cached answer
would be right. At threshold ``t`` a pair is a hit when its cosine similarity is ``>= t``;
precision is the share of hits that are right, recall the share of right pairs that hit.
:func:`calibrate_threshold` returns the lowest threshold (most recall) whose precision reaches
the target; of thresholds with equal recall, the highest (it serves fewer wrong answers).

    >>> c = calibrate_threshold([0.95, 0.9, 0.8, 0.7], [1, 1, 0, 1], target_precision=0.9)
    >>> (c.threshold, c.precision, c.recall)
    (0.9, 1.0, 0.6666666666666666)
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.cache.verify import PairVerifier, fit_verifier
from mlcost.errors import BadValue, InvalidInput, MissingColumn, NoFit

if TYPE_CHECKING:
    from mlcost.cache.semantic import Embedder

__all__ = [
    "Calibration",
    "VerifiedCalibration",
    "calibrate_learned",
    "calibrate_threshold",
    "calibrate_verified",
    "read_pairs",
    "score_pairs",
    "sweep",
]


@dataclass(frozen=True)
class Calibration:
    """The chosen threshold and what it does on the pairs it was chosen from."""

    threshold: float
    target_precision: float
    precision: float
    recall: float
    hit_rate: float
    pairs: int
    positives: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sweep(
    scores: Sequence[float], labels: Sequence[int]
) -> list[tuple[float, float, float, float]]:
    """``(threshold, precision, recall, hit_rate)`` at every distinct score, highest first."""
    if len(scores) != len(labels):
        raise InvalidInput(f"{len(scores)} scores but {len(labels)} labels")
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    positives = sum(1 for label in labels if label)
    n = len(pairs)
    out = []
    tp = hits = 0
    for i, (score, label) in enumerate(pairs):
        hits += 1
        tp += 1 if label else 0
        if i + 1 < n and pairs[i + 1][0] == score:
            continue  # ties hit together
        out.append((score, tp / hits, tp / positives if positives else 0.0, hits / n))
    return out


def calibrate_threshold(
    scores: Sequence[float], labels: Sequence[int], *, target_precision: float = 0.95
) -> Calibration:
    """The lowest threshold whose precision on these pairs reaches ``target_precision``.

    Lowest among those with the most recall: a lower one that adds only wrong hits is not taken.
    """
    if not 0 < target_precision <= 1:
        raise InvalidInput(f"target precision {target_precision} is not in (0, 1]", fix="e.g. 0.95")
    positives = sum(1 for label in labels if label)
    if not positives or positives == len(labels):
        raise InvalidInput(
            f"{positives} of {len(labels)} pairs are labelled same-meaning",
            fix="give both kinds: pairs that should hit (label 1) and pairs that must not (0)",
        )
    best = None
    for threshold, precision, recall, hit_rate in sweep(scores, labels):
        # Lower thresholds only add hits; one that adds no right hit only adds wrong ones.
        if precision >= target_precision and (best is None or recall > best[2]):
            best = (threshold, precision, recall, hit_rate)
    if best is None:
        raise NoFit(
            f"No threshold reaches {target_precision:.0%} precision on these pairs. "
            "Lower --target-precision, add a verify step, or use a stronger embedder."
        )
    threshold, precision, recall, hit_rate = best
    return Calibration(
        round(threshold, 6),
        target_precision,
        precision,
        recall,
        hit_rate,
        len(labels),
        positives,
    )


_GRID = 2000


@dataclass(frozen=True)
class VerifiedCalibration(Calibration):
    """A cosine threshold and a verifier cutoff chosen together, and what they do.

    A hit needs ``cosine >= threshold`` *and* the verifier's score ``>= cutoff``. ``cosine``
    is the plain-cosine calibration on the same pairs (``None`` where no threshold reaches
    the target), so the two can be compared.
    """

    cutoff: float
    cosine: Calibration | None


def calibrate_verified(
    scores: Sequence[float],
    verifier_scores: Sequence[float],
    labels: Sequence[int],
    *,
    target_precision: float = 0.95,
) -> VerifiedCalibration:
    """The cosine threshold and verifier cutoff with the most recall at ``target_precision``.

    ``verifier_scores`` are what the verifier says of each pair (a probability, or 1/0 for
    a yes/no verifier). The verifier is calibrated *in the loop*: a lower cosine threshold
    lets in more repeats and more wrong hits, and the verifier cutoff removes the wrong
    ones, so the pair chosen here serves more repeats than a cosine threshold alone at the
    same precision. For an honest figure, fit any learned verifier on other pairs (or use
    out-of-fold scores, as ``mlcost cache calibrate --verifier learned`` does).

        >>> c = calibrate_verified([0.99, 0.9, 0.9, 0.8], [1, 1, 0, 1], [1, 1, 0, 1],
        ...                        target_precision=1.0)
        >>> (c.threshold, c.cutoff, c.recall, c.cosine.recall)
        (0.8, 1.0, 1.0, 0.3333333333333333)
    """
    import numpy as np

    if not len(scores) == len(verifier_scores) == len(labels):
        raise InvalidInput(
            f"{len(scores)} scores, {len(verifier_scores)} verifier scores, {len(labels)} labels"
        )
    try:
        cosine: Calibration | None = calibrate_threshold(
            scores, labels, target_precision=target_precision
        )
    except NoFit:
        cosine = None
    cos = np.asarray(scores, dtype=np.float64)
    ver = np.asarray(verifier_scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    positives = int(y.sum())
    best: tuple[int, float, float, float, int] | None = None  # tp, threshold, cutoff, prec, hits
    # Highest threshold first, so that of two choices with equal recall the stricter stays.
    thresholds = np.unique(cos)
    if len(thresholds) > _GRID:  # O(grid * n log n): a quantile grid keeps big pair sets fast
        thresholds = np.unique(np.quantile(cos, np.linspace(0, 1, _GRID), method="lower"))
    for t in thresholds[::-1]:
        inside = cos >= t
        v, yy = ver[inside], y[inside]
        order = np.argsort(-v, kind="stable")
        v, yy = v[order], yy[order]
        tp = np.cumsum(yy)
        hits = np.arange(1, len(v) + 1)
        last_of_tie = np.append(v[1:] != v[:-1], True)  # equal scores hit together
        ok = np.flatnonzero(last_of_tie & (tp >= target_precision * hits))
        if len(ok) == 0:
            continue
        i = int(ok[-1])
        if best is None or int(tp[i]) > best[0]:
            best = (int(tp[i]), float(t), float(v[i]), float(tp[i] / hits[i]), int(hits[i]))
    if best is None:
        raise NoFit(
            f"No threshold and verifier cutoff reach {target_precision:.0%} precision on these "
            "pairs. Lower --target-precision or use a stronger embedder."
        )
    right, threshold, cutoff, precision, served = best
    return VerifiedCalibration(
        threshold=round(threshold, 6),
        target_precision=target_precision,
        precision=precision,
        recall=right / positives,
        hit_rate=served / len(y),
        pairs=len(y),
        positives=positives,
        cutoff=round(cutoff, 6),
        cosine=cosine,
    )


def calibrate_learned(
    pairs: Sequence[tuple[str, str]],
    scores: Sequence[float],
    labels: Sequence[int],
    *,
    target_precision: float = 0.95,
    folds: int = 5,
) -> tuple[PairVerifier, VerifiedCalibration]:
    """Fit a :class:`PairVerifier` on these pairs and calibrate it with the threshold.

    The verifier cutoff is chosen on *out-of-fold* probabilities (pair ``i`` is scored by a
    model fitted without fold ``i % folds``), so a model that memorized its pairs cannot
    make the precision look better than it will be; the verifier returned is then fitted on
    all pairs and carries the chosen cutoff. ``pairs`` are ``(cached prompt, new prompt)``.
    """
    if folds < 2:
        raise InvalidInput(f"folds={folds}", fix="use 2 or more (5 is usual)")
    if not len(pairs) == len(scores) == len(labels):
        raise InvalidInput(f"{len(pairs)} pairs, {len(scores)} scores, {len(labels)} labels")
    out_of_fold = [0.0] * len(pairs)
    for k in range(folds):
        train = [i for i in range(len(pairs)) if i % folds != k]
        model = fit_verifier(
            [pairs[i] for i in train], [scores[i] for i in train], [labels[i] for i in train]
        )
        for i in range(k, len(pairs), folds):
            out_of_fold[i] = model.probability(pairs[i][1], pairs[i][0], scores[i])
    cal = calibrate_verified(scores, out_of_fold, labels, target_precision=target_precision)
    verifier = fit_verifier(pairs, scores, labels).with_cutoff(cal.cutoff)
    return verifier, cal


def score_pairs(
    pairs: Sequence[tuple[str, str]],
    embedder: Embedder,
    *,
    verify: Callable[[str, str, Any], bool] | None = None,
) -> list[float]:
    """Cosine similarity of each pair; a pair that ``verify`` rejects scores −1 (never hits)."""
    import numpy as np

    if not pairs:
        return []
    a = embedder.embed([p[0] for p in pairs])
    b = embedder.embed([p[1] for p in pairs])
    scores = [float(s) for s in np.einsum("ij,ij->i", a, b)]
    if verify is not None:
        scores = [
            s if verify(q, c, None) else -1.0 for s, (c, q) in zip(scores, pairs, strict=True)
        ]
    return scores


def read_pairs(path: str | Path) -> tuple[list[tuple[str, str]], list[int]]:
    """Labelled pairs from CSV/TSV (header ``text_a,text_b,label``) or JSON/JSONL (+ ``.gz``).

    Also reads PAWS's headerless TSV (``id, sentence1, sentence2, label``).
    """
    path = Path(path)
    name = path.name.removesuffix(".gz")
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    rows: list[dict[str, Any]]
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        if name.endswith(".jsonl"):
            rows = [json.loads(line) for line in fh if line.strip()]
        elif name.endswith(".json"):
            rows = json.load(fh)
        else:
            delimiter = "\t" if name.endswith(".tsv") else ","
            raw = list(csv.reader(fh, delimiter=delimiter, quoting=csv.QUOTE_NONE))
            if raw and {"text_a", "text_b", "label"} <= set(raw[0]):
                header = raw[0]
                rows = [dict(zip(header, r, strict=False)) for r in raw[1:]]
            elif raw and len(raw[0]) == 4:
                rows = [{"text_a": r[1], "text_b": r[2], "label": r[3]} for r in raw]
            else:
                raise MissingColumn(
                    "no text_a, text_b, label header",
                    file=path,
                    fix="first line: text_a,text_b,label",
                )
    pairs: list[tuple[str, str]] = []
    labels: list[int] = []
    for i, row in enumerate(rows, start=1):
        try:
            label = int(row["label"])
            pairs.append((str(row["text_a"]), str(row["text_b"])))
        except KeyError as exc:
            raise MissingColumn(f"no {exc.args[0]!r} field", file=path, row=i) from exc
        except (TypeError, ValueError) as exc:
            raise BadValue(
                f"label {row['label']!r} is not 0 or 1", file=path, row=i, column="label"
            ) from exc
        if label not in (0, 1):
            raise BadValue(f"label {label} is not 0 or 1", file=path, row=i, column="label")
        labels.append(label)
    return pairs, labels
