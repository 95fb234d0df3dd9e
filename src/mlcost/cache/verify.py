"""Verifiers: a second opinion on a semantic-cache candidate before its answer is served.

Cosine similarity alone cannot separate "How do I learn Python 2?" from "How do I learn
Python 3?": the embeddings are nearly identical, the answers are not. A verifier looks at the
two prompts (and the similarity) and says whether the cached answer may be served.

- :func:`~mlcost.cache.semantic.same_key_terms` is a fixed rule (numbers and negations agree).
- :class:`PairVerifier` is a small logistic model over cheap pair features (cosine, word and
  character overlap, words only one side has, numbers, negations, question words, length),
  fitted on the user's own labelled pairs by :func:`fit_verifier` and kept as a JSON file of a
  few weights. No network, no model download, microseconds per check.

A verifier only helps recall if the threshold is chosen *with* it: it removes the wrong hits
that a lower cosine threshold lets in. :func:`~mlcost.cache.calibrate.calibrate_verified`
does that.

    >>> v = PairVerifier.rule()
    >>> v("How do I learn Python 2?", "How do I learn Python 3?", None, similarity=0.97)
    False
    >>> v("How do I learn Python?", "how do i learn python", None, similarity=0.99)
    True
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcost.errors import BadValue, InvalidInput

__all__ = ["FEATURES", "PairVerifier", "fit_verifier", "pair_features"]

_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")
_NEGATIONS = frozenset(
    {"not", "no", "never", "without", "cannot", "cant", "dont", "doesnt", "isnt", "nor", "none"}
)
# Question words: "how" and "why" about the same subject ask different things.
_WH = frozenset({"what", "how", "why", "when", "where", "who", "which", "whom", "whose"})
# Function words carry no topic: a word only one prompt has matters when it is not one of these.
_STOP_WORDS = """
    a an the is are was were be been being am do does did doing have has had having i me my we
    our you your he she it its they them their this that these those of in on at to for from by
    with about as into through over under again further then once here there all any both each
    few more most other some such only own same so than too very s t can will just should now
    and or but if because until while what how why when where who which whom whose would could
    shall may might must get got also one ones best good way ways someone something anyone
    anything people person use using used
"""
_STOP = frozenset(_STOP_WORDS.split())

FEATURES: tuple[str, ...] = (
    "cosine",
    "word_jaccard",
    "content_jaccard",
    "char3_jaccard",
    "only_one_side",
    "length_ratio",
    "number_mismatch",
    "negation_mismatch",
    "question_word_mismatch",
    "cosine_x_content_jaccard",
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("'", "").replace("\u2019", ""))


def _jaccard(a: set[str], b: set[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _char3(text: str) -> set[str]:
    s = " " + " ".join(_words(text)) + " "
    return {s[i : i + 3] for i in range(len(s) - 2)}


def pair_features(prompt: str, cached_prompt: str, similarity: float) -> list[float]:
    """The :data:`FEATURES` of one pair, in order (plain floats)."""
    wa, wb = _words(prompt), _words(cached_prompt)
    sa, sb = set(wa), set(wb)
    ca, cb = sa - _STOP, sb - _STOP
    content = _jaccard(ca, cb)
    numbers_a = {w for w in sa if _NUMBER.match(w)}
    numbers_b = {w for w in sb if _NUMBER.match(w)}
    neg_a = sum(w in _NEGATIONS for w in wa) % 2
    neg_b = sum(w in _NEGATIONS for w in wb) % 2
    wh_a, wh_b = sa & _WH, sb & _WH
    shorter, longer = sorted((len(wa), len(wb)))
    return [
        similarity,
        _jaccard(sa, sb),
        content,
        _jaccard(_char3(prompt), _char3(cached_prompt)),
        math.log1p(len(ca ^ cb)),
        shorter / longer if longer else 1.0,
        float(numbers_a != numbers_b),
        float(neg_a != neg_b),
        float(bool(wh_a) and bool(wh_b) and not wh_a & wh_b),
        similarity * content,
    ]


@dataclass(frozen=True)
class PairVerifier:
    """Logistic model over :func:`pair_features`: serve when P(same meaning) >= ``cutoff``.

    Use as ``SemanticCache(threshold=t, verify=verifier)``: the cache passes the cosine
    similarity of the candidate. ``weights`` are per feature on standardized inputs
    (``(x - mean) / scale``); :func:`fit_verifier` fits them, :meth:`save` / :meth:`load`
    keep them as JSON. :meth:`rule` is an unfitted fallback: numbers, negations and question
    words must agree.
    """

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    cutoff: float = 0.5
    features: tuple[str, ...] = FEATURES

    uses_similarity = True  # SemanticCache passes similarity= to verifiers that say so

    def __post_init__(self) -> None:
        if self.features != FEATURES:
            raise InvalidInput(
                f"verifier features {list(self.features)} are not this version's {list(FEATURES)}",
                fix="refit it: mlcost cache calibrate PAIRS --verifier learned --save-verifier",
            )
        n = len(FEATURES)
        if not len(self.weights) == len(self.mean) == len(self.scale) == n:
            raise InvalidInput(f"a verifier needs {n} weights, means and scales")
        if not 0.0 <= self.cutoff <= 1.0:
            raise InvalidInput(f"cutoff {self.cutoff} is not a probability in [0, 1]")

    @classmethod
    def rule(cls) -> PairVerifier:
        """No fitting: reject when numbers, negations or question words differ."""
        n = len(FEATURES)
        weights = [0.0] * n
        for name in ("number_mismatch", "negation_mismatch", "question_word_mismatch"):
            weights[FEATURES.index(name)] = -10.0
        return cls(tuple(weights), 5.0, (0.0,) * n, (1.0,) * n, 0.5)

    def probability(self, prompt: str, cached_prompt: str, similarity: float) -> float:
        """P(the cached answer is right for ``prompt``) under the model."""
        x = pair_features(prompt, cached_prompt, similarity)
        z = self.bias + sum(
            w * (v - m) / s
            for w, v, m, s in zip(self.weights, x, self.mean, self.scale, strict=True)
        )
        return _sigmoid(z)

    def __call__(
        self,
        prompt: str,
        cached_prompt: str,
        cached_answer: object = None,
        *,
        similarity: float = 1.0,
    ) -> bool:
        return self.probability(prompt, cached_prompt, similarity) >= self.cutoff

    def with_cutoff(self, cutoff: float) -> PairVerifier:
        return PairVerifier(self.weights, self.bias, self.mean, self.scale, cutoff)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "mlcost.cache.PairVerifier",
            "version": 1,
            "features": list(self.features),
            "weights": list(self.weights),
            "bias": self.bias,
            "mean": list(self.mean),
            "scale": list(self.scale),
            "cutoff": self.cutoff,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> PairVerifier:
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                tuple(float(w) for w in d["weights"]),
                float(d["bias"]),
                tuple(float(m) for m in d["mean"]),
                tuple(float(s) for s in d["scale"]),
                float(d["cutoff"]),
                tuple(d["features"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadValue(
                f"not a saved PairVerifier ({exc})",
                file=path,
                fix="write one with: mlcost cache calibrate PAIRS --verifier learned "
                "--save-verifier FILE",
            ) from exc


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def fit_verifier(
    pairs: Sequence[tuple[str, str]],
    similarities: Sequence[float],
    labels: Sequence[int],
    *,
    l2: float = 1.0,
    cutoff: float = 0.5,
) -> PairVerifier:
    """Fit a :class:`PairVerifier` by L2-regularized logistic regression (Newton's method).

    ``pairs`` are ``(cached prompt, new prompt)``; label 1 = the cached answer is right.
    """
    import numpy as np

    if not len(pairs) == len(similarities) == len(labels):
        raise InvalidInput(
            f"{len(pairs)} pairs, {len(similarities)} similarities, {len(labels)} labels"
        )
    y = np.asarray(labels, dtype=np.float64)
    if y.sum() == 0 or y.sum() == len(y):
        raise InvalidInput(
            "a verifier needs both kinds of pair",
            fix="give pairs that should hit (label 1) and pairs that must not (0)",
        )
    x = np.asarray(
        [pair_features(q, c, s) for (c, q), s in zip(pairs, similarities, strict=True)],
        dtype=np.float64,
    )
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        grad = z.T @ (p - y) + penalty * beta
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return PairVerifier(
        tuple(float(b) for b in beta[1:]),
        float(beta[0]),
        tuple(float(m) for m in mean),
        tuple(float(s) for s in scale),
        cutoff,
    )
