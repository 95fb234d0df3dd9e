"""Pick a semantic-cache threshold from the user's own labelled pairs.

Each pair is ``(cached prompt, new prompt, label)``; label 1 means serving the cached answer
would be right. At threshold ``t`` a pair is a hit when its cosine similarity is ``>= t``;
precision is the share of hits that are right, recall the share of right pairs that hit.
:func:`calibrate_threshold` returns the lowest threshold (most recall) whose precision reaches
the target; of thresholds with equal recall, the highest (it serves fewer wrong answers).

Precision measured on the pairs a threshold was chosen from is optimistic: the lowest
threshold that touches the target is usually one where chance put a few right answers. With
``confidence=0.9`` a threshold counts only when the one-sided Wilson lower bound of its
precision (90 % confidence) reaches the target, so fewer pairs mean a stricter threshold
rather than a promise the next pairs break. ``mlcost cache calibrate`` uses 0.9. The bound
holds for each threshold and the sweep picks among many, so the pick can still fall short on
new pairs — in ``tests/cache/test_calibrate.py`` 8 of 40 fresh draws missed a 90 % target by at
most 2.1 points, against 23 of 40 by up to 4.7 points without it.

    >>> c = calibrate_threshold([0.95, 0.9, 0.8, 0.7], [1, 1, 0, 1], target_precision=0.9)
    >>> (c.threshold, c.precision, c.recall)
    (0.9, 1.0, 0.6666666666666666)
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

from mlcost.cache.verify import PairVerifier, TreeVerifier, feature_matrix, fit_features
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
    confidence: float | None = field(default=None, kw_only=True)

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


def precision_floor(right: Any, hits: Any, confidence: float | None) -> Any:
    """``right / hits``, or with ``confidence`` its one-sided Wilson lower bound.

    Works on numbers and on numpy arrays alike.

    >>> round(precision_floor(19, 20, None), 3), round(precision_floor(19, 20, 0.9), 3)
    (0.95, 0.847)
    """
    share = right / hits
    if confidence is None:
        return share
    z = NormalDist().inv_cdf(confidence)
    spread = z * (share * (1 - share) / hits + z * z / (4 * hits * hits)) ** 0.5
    return (share + z * z / (2 * hits) - spread) / (1 + z * z / hits)


def _check_target(target_precision: float, confidence: float | None) -> None:
    if not 0 < target_precision <= 1:
        raise InvalidInput(f"target precision {target_precision} is not in (0, 1]", fix="e.g. 0.95")
    if confidence is not None and not 0.5 <= confidence < 1:
        raise InvalidInput(f"confidence {confidence} is not in [0.5, 1)", fix="e.g. 0.9")


def _no_fit(what: str, target_precision: float, confidence: float | None) -> NoFit:
    fixes = "lower --target-precision, add a verify step, or use a stronger embedder"
    sure = ""
    if confidence is not None:
        sure = f" with {confidence:.0%} confidence"
        fixes = f"give more labelled pairs (or lower --confidence), {fixes}"
    return NoFit(
        f"No {what} reaches {target_precision:.0%} precision{sure} on these pairs: "
        f"{fixes[0].upper()}{fixes[1:]}."
    )


def calibrate_threshold(
    scores: Sequence[float],
    labels: Sequence[int],
    *,
    target_precision: float = 0.95,
    confidence: float | None = None,
) -> Calibration:
    """The lowest threshold whose precision on these pairs reaches ``target_precision``.

    Lowest among those with the most recall: a lower one that adds only wrong hits is not taken.
    With ``confidence``, the lower bound of the precision must reach it (module docstring).
    """
    _check_target(target_precision, confidence)
    positives = sum(1 for label in labels if label)
    if not positives or positives == len(labels):
        raise InvalidInput(
            f"{positives} of {len(labels)} pairs are labelled same-meaning",
            fix="give both kinds: pairs that should hit (label 1) and pairs that must not (0)",
        )
    best = None
    for threshold, precision, recall, hit_rate in sweep(scores, labels):
        # Lower thresholds only add hits; one that adds no right hit only adds wrong ones.
        hits = round(hit_rate * len(labels))  # back to the counts sweep divided
        sure = precision_floor(round(precision * hits), hits, confidence)
        if sure >= target_precision and (best is None or recall > best[2]):
            best = (threshold, precision, recall, hit_rate)
    if best is None:
        raise _no_fit("threshold", target_precision, confidence)
    threshold, precision, recall, hit_rate = best
    return Calibration(
        round(threshold, 6),
        target_precision,
        precision,
        recall,
        hit_rate,
        len(labels),
        positives,
        confidence=confidence,
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
    confidence: float | None = None,
) -> VerifiedCalibration:
    """The cosine threshold and verifier cutoff with the most recall at ``target_precision``.

    ``verifier_scores`` are what the verifier says of each pair (a probability, or 1/0 for
    a yes/no verifier). The verifier is calibrated *in the loop*: a lower cosine threshold
    lets in more repeats and more wrong hits, and the verifier cutoff removes the wrong
    ones, so the pair chosen here serves more repeats than a cosine threshold alone at the
    same precision. For an honest figure, fit any learned verifier on other pairs (or use
    out-of-fold scores, as ``mlcost cache calibrate --verifier learned`` does). With
    ``confidence``, the lower bound of the precision must reach the target (module docstring).

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
    _check_target(target_precision, confidence)
    try:
        cosine: Calibration | None = calibrate_threshold(
            scores, labels, target_precision=target_precision, confidence=confidence
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
        if confidence is None:
            meets = tp >= target_precision * hits
        else:
            meets = precision_floor(tp, hits, confidence) >= target_precision
        ok = np.flatnonzero(last_of_tie & meets)
        if len(ok) == 0:
            continue
        i = int(ok[-1])
        if best is None or int(tp[i]) > best[0]:
            best = (int(tp[i]), float(t), float(v[i]), float(tp[i] / hits[i]), int(hits[i]))
    if best is None:
        raise _no_fit("pair of threshold and verifier cutoff", target_precision, confidence)
    right, threshold, cutoff, precision, served = best
    return VerifiedCalibration(
        threshold=round(threshold, 6),
        target_precision=target_precision,
        precision=precision,
        recall=right / positives,
        hit_rate=served / len(y),
        pairs=len(y),
        positives=positives,
        confidence=confidence,
        cutoff=round(cutoff, 6),
        cosine=cosine,
    )


def calibrate_learned(
    pairs: Sequence[tuple[str, str]],
    scores: Sequence[float],
    labels: Sequence[int],
    *,
    target_precision: float = 0.95,
    confidence: float | None = None,
    folds: int = 5,
    model: Literal["trees", "logistic"] = "trees",
) -> tuple[TreeVerifier | PairVerifier, VerifiedCalibration]:
    """Fit a verifier on these pairs and calibrate it with the threshold.

    ``model`` is ``"trees"`` (:class:`TreeVerifier`) or ``"logistic"`` (:class:`PairVerifier`).
    The verifier cutoff is chosen on *out-of-fold* probabilities (pair ``i`` is scored by a
    model fitted without fold ``i % folds``), so a model that memorized its pairs cannot
    make the precision look better than it will be; the verifier returned is then fitted on
    all pairs and carries the chosen cutoff. ``pairs`` are ``(cached prompt, new prompt)``.
    """
    import numpy as np

    if folds < 2:
        raise InvalidInput(f"folds={folds}", fix="use 2 or more (5 is usual)")
    if not len(pairs) == len(scores) == len(labels):
        raise InvalidInput(f"{len(pairs)} pairs, {len(scores)} scores, {len(labels)} labels")
    x, y = feature_matrix(pairs, scores), np.asarray(labels)
    out_of_fold = np.zeros(len(pairs))
    fold_of = np.arange(len(pairs)) % folds
    for k in range(folds):
        fitted = fit_features(model, x[fold_of != k], y[fold_of != k])
        out_of_fold[fold_of == k] = fitted.probabilities(x[fold_of == k])
    cal = calibrate_verified(
        scores,
        out_of_fold.tolist(),
        labels,
        target_precision=target_precision,
        confidence=confidence,
    )
    return fit_features(model, x, y).with_cutoff(cal.cutoff), cal


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
