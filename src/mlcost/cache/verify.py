"""Verifiers: a second opinion on a semantic-cache candidate before its answer is served.

Cosine similarity alone cannot separate "How do I learn Python 2?" from "How do I learn
Python 3?": the embeddings are nearly identical, the answers are not. A verifier looks at the
two prompts (and the similarity) and says whether the cached answer may be served.

- :func:`~mlcost.cache.semantic.same_key_terms` is a fixed rule (numbers and negations agree).
- :class:`TreeVerifier` is gradient-boosted decision trees over cheap pair features (cosine,
  word and character overlap, words only one side has, numbers, negations, question words,
  length), fitted on the user's own labelled pairs by :func:`fit_tree_verifier` and kept as a
  JSON file of a few hundred split points. It is what ``mlcost cache calibrate --verifier
  learned`` fits: on QQP it reaches a precision that no cosine threshold reaches
  (docs/caching.md). No network, no model download, ~0.06 ms per check; a saved one is
  ~50 KiB of JSON.
- :class:`PairVerifier` is a logistic model over the same features (:func:`fit_verifier`): a
  dozen weights, easier to read, weaker where precision must be high.

:func:`load_verifier` reads either back from its JSON file.

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
from typing import Any, Self

from mlcost.errors import BadValue, InvalidInput

__all__ = [
    "FEATURES",
    "PairVerifier",
    "TreeVerifier",
    "fit_tree_verifier",
    "fit_verifier",
    "load_verifier",
    "pair_features",
]

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


class _Learned:
    """What the fitted verifiers share: a yes/no from a probability, and a JSON file."""

    cutoff: float
    uses_similarity = True  # SemanticCache passes similarity= to verifiers that say so

    def probability(self, prompt: str, cached_prompt: str, similarity: float) -> float:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __call__(
        self,
        prompt: str,
        cached_prompt: str,
        cached_answer: object = None,
        *,
        similarity: float = 1.0,
    ) -> bool:
        return self.probability(prompt, cached_prompt, similarity) >= self.cutoff

    def _check(self, features: tuple[str, ...]) -> None:
        if features != FEATURES:
            raise InvalidInput(
                f"verifier features {list(features)} are not this version's {list(FEATURES)}",
                fix="refit it: mlcost cache calibrate PAIRS --verifier learned --save-verifier",
            )
        if not 0.0 <= self.cutoff <= 1.0:
            raise InvalidInput(f"cutoff {self.cutoff} is not a probability in [0, 1]")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """A verifier of this class saved by :meth:`save`."""
        verifier = _load(path, cls.__name__)
        if not isinstance(verifier, cls):
            raise BadValue(
                f"holds a {type(verifier).__name__}, not a {cls.__name__}",
                file=Path(path),
                fix="read it with load_verifier(path), which takes either kind",
            )
        return verifier

    def save(self, path: str | Path) -> Path:
        """Write the verifier as JSON; :func:`load_verifier` reads it back."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict()) + "\n", encoding="utf-8")
        return path


@dataclass(frozen=True)
class PairVerifier(_Learned):
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

    def __post_init__(self) -> None:
        self._check(self.features)
        n = len(FEATURES)
        if not len(self.weights) == len(self.mean) == len(self.scale) == n:
            raise InvalidInput(f"a verifier needs {n} weights, means and scales")

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

    def probabilities(self, x: Any) -> Any:
        """P for each row of a feature matrix (numpy, rows of :func:`pair_features`)."""
        import numpy as np

        x = np.asarray(x, dtype=np.float64)
        z = self.bias + ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(
            self.weights
        )
        return 1.0 / (1.0 + np.exp(-z))

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

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> PairVerifier:
        return cls(
            tuple(float(w) for w in d["weights"]),
            float(d["bias"]),
            tuple(float(m) for m in d["mean"]),
            tuple(float(s) for s in d["scale"]),
            float(d["cutoff"]),
            tuple(d["features"]),
        )


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
    return _fit_logistic(feature_matrix(pairs, similarities), labels, l2=l2, cutoff=cutoff)


def _targets(x: Any, labels: Sequence[int]) -> Any:
    """The labels as floats, checked: one per feature row, and both kinds present."""
    import numpy as np

    y = np.asarray(labels, dtype=np.float64)
    if len(y) != len(x):
        raise InvalidInput(f"{len(x)} pairs, {len(y)} labels")
    if y.sum() == 0 or y.sum() == len(y):
        raise InvalidInput(
            "a verifier needs both kinds of pair",
            fix="give pairs that should hit (label 1) and pairs that must not (0)",
        )
    return y


def _fit_logistic(
    x: Any, labels: Sequence[int], *, l2: float = 1.0, cutoff: float = 0.5
) -> PairVerifier:
    import numpy as np

    y = _targets(x, labels)
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


# -- gradient-boosted trees ---------------------------------------------------------------
# A node is (feature, threshold, left, right, value): go left when x[feature] < threshold;
# feature -1 marks a leaf whose value is added to the log-odds.
Node = tuple[int, float, int, int, float]


@dataclass(frozen=True)
class TreeVerifier(_Learned):
    """Gradient-boosted trees over :func:`pair_features`: serve when P(same meaning) >= cutoff.

    P = sigmoid(bias + the sum of one leaf value per tree). Trees capture what a linear model
    over the same features cannot — e.g. that a near-identical pair is a safe hit only when
    no number or content word differs — which is where the high-precision end of the curve
    is decided. Use as ``SemanticCache(threshold=t, verify=verifier)``; fit with
    :func:`fit_tree_verifier`, keep with :meth:`save`, read back with :func:`load_verifier`.
    """

    trees: tuple[tuple[Node, ...], ...]
    bias: float
    cutoff: float = 0.5
    features: tuple[str, ...] = FEATURES

    def __post_init__(self) -> None:
        self._check(self.features)
        n = len(FEATURES)
        for t, tree in enumerate(self.trees):
            if not tree:
                raise InvalidInput(f"tree {t} has no nodes")
            for i, (feature, _, left, right, _) in enumerate(tree):
                # Children come after their parent (pre-order): no loops, nothing outside.
                inside = i < left < len(tree) and i < right < len(tree)
                if feature >= n or (feature >= 0 and not inside):
                    raise InvalidInput(f"tree {t} has a node that points outside it")

    def log_odds(self, x: Sequence[float]) -> float:
        z = self.bias
        for tree in self.trees:
            node = tree[0]
            while node[0] >= 0:
                node = tree[node[2] if x[node[0]] < node[1] else node[3]]
            z += node[4]
        return z

    def probability(self, prompt: str, cached_prompt: str, similarity: float) -> float:
        """P(the cached answer is right for ``prompt``) under the model."""
        return _sigmoid(self.log_odds(pair_features(prompt, cached_prompt, similarity)))

    def probabilities(self, x: Any) -> Any:
        """P for each row of a feature matrix (numpy, rows of :func:`pair_features`)."""
        import numpy as np

        x = np.asarray(x, dtype=np.float64)
        rows = np.arange(len(x))
        z = np.full(len(x), self.bias)
        for tree in self.trees:
            t = np.asarray(tree, dtype=np.float64)
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                feature = t[node, 0].astype(np.int64)
                inner = feature >= 0
                if not inner.any():
                    break
                value = x[rows, np.where(inner, feature, 0)]
                child = np.where(value < t[node, 1], t[node, 2], t[node, 3]).astype(np.int64)
                node = np.where(inner, child, node)
            z += t[node, 4]
        return 1.0 / (1.0 + np.exp(-z))

    def with_cutoff(self, cutoff: float) -> TreeVerifier:
        return TreeVerifier(self.trees, self.bias, cutoff)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "mlcost.cache.TreeVerifier",
            "version": 1,
            "features": list(self.features),
            "bias": self.bias,
            "cutoff": self.cutoff,
            "trees": [[list(node) for node in tree] for tree in self.trees],
        }

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> TreeVerifier:
        trees = tuple(
            tuple((int(n[0]), float(n[1]), int(n[2]), int(n[3]), float(n[4])) for n in tree)
            for tree in d["trees"]
        )
        return cls(trees, float(d["bias"]), float(d["cutoff"]), tuple(d["features"]))


def load_verifier(path: str | Path) -> PairVerifier | TreeVerifier:
    """A verifier saved by :meth:`TreeVerifier.save` or :meth:`PairVerifier.save`."""
    return _load(path, "verifier")


def _load(path: str | Path, what: str) -> PairVerifier | TreeVerifier:
    path = Path(path)
    kinds: dict[str, type[PairVerifier] | type[TreeVerifier]] = {
        "mlcost.cache.PairVerifier": PairVerifier,
        "mlcost.cache.TreeVerifier": TreeVerifier,
    }
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        kind = d.get("kind") if isinstance(d, dict) else None
        if kind not in kinds:
            raise ValueError(f"kind {kind!r}")
        return kinds[kind]._from_dict(d)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise BadValue(
            f"not a saved {what} ({exc})",
            file=path,
            fix="write one with: mlcost cache calibrate PAIRS --verifier learned "
            "--save-verifier FILE",
        ) from exc


def fit_features(model: str, x: Any, labels: Any) -> PairVerifier | TreeVerifier:
    """A verifier of ``model`` ("trees" or "logistic") fitted on a :func:`feature_matrix`
    and its labels (a sequence or numpy array of 0/1).

    For fitting several times on parts of one pair set (cross-validation) without
    recomputing the features.
    """
    if model == "trees":
        return _fit_trees(x, labels)
    if model == "logistic":
        return _fit_logistic(x, labels)
    raise InvalidInput(f"model {model!r}", fix="use 'trees' or 'logistic'")


def feature_matrix(pairs: Sequence[tuple[str, str]], similarities: Sequence[float]) -> Any:
    """:func:`pair_features` of each ``(cached prompt, new prompt)`` pair, as a numpy matrix."""
    import numpy as np

    if len(pairs) != len(similarities):
        raise InvalidInput(f"{len(pairs)} pairs, {len(similarities)} similarities")
    rows = [pair_features(q, c, s) for (c, q), s in zip(pairs, similarities, strict=True)]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def fit_tree_verifier(
    pairs: Sequence[tuple[str, str]],
    similarities: Sequence[float],
    labels: Sequence[int],
    *,
    trees: int = 100,
    depth: int = 3,
    learning_rate: float = 0.1,
    min_leaf: int = 20,
    l2: float = 1.0,
    bins: int = 64,
    cutoff: float = 0.5,
) -> TreeVerifier:
    """Fit a :class:`TreeVerifier`: ``trees`` rounds of Newton boosting on the logistic loss.

    Each tree is grown to ``depth`` on histograms of the features (split points at up to
    ``bins`` quantiles of each), never leaving fewer than ``min_leaf`` pairs in a leaf; leaf
    values are ``-learning_rate * sum(gradient) / (sum(hessian) + l2)``. ``pairs`` are
    ``(cached prompt, new prompt)``; label 1 = the cached answer is right.
    """
    return _fit_trees(
        feature_matrix(pairs, similarities),
        labels,
        trees=trees,
        depth=depth,
        learning_rate=learning_rate,
        min_leaf=min_leaf,
        l2=l2,
        bins=bins,
        cutoff=cutoff,
    )


def _fit_trees(
    x: Any,
    labels: Sequence[int],
    *,
    trees: int = 100,
    depth: int = 3,
    learning_rate: float = 0.1,
    min_leaf: int = 20,
    l2: float = 1.0,
    bins: int = 64,
    cutoff: float = 0.5,
) -> TreeVerifier:
    import numpy as np

    y = _targets(x, labels)
    if trees < 1 or depth < 1 or min_leaf < 1 or bins < 2:
        raise InvalidInput(f"trees={trees}, depth={depth}, min_leaf={min_leaf}, bins={bins}")
    # Split points: distinct quantiles of each feature; a value's bin = split points <= it,
    # so "bin <= b" is exactly "x < edges[b]".
    edges = [
        np.unique(np.quantile(x[:, j], np.linspace(0, 1, bins + 1)[1:-1]))
        for j in range(x.shape[1])
    ]
    binned = np.column_stack(
        [np.searchsorted(e, x[:, j], side="right") for j, e in enumerate(edges)]
    )
    share = float(y.mean())
    bias = float(np.log(share / (1 - share)))
    z = np.full(len(y), bias)
    fitted: list[tuple[Node, ...]] = []
    for _ in range(trees):
        p = 1.0 / (1.0 + np.exp(-z))
        grad, hess = p - y, p * (1 - p)
        nodes: list[Node] = []
        _grow(
            nodes,
            np.arange(len(y)),
            0,
            binned,
            edges,
            grad,
            hess,
            z,
            depth,
            min_leaf,
            l2,
            learning_rate,
        )
        fitted.append(tuple(nodes))
    return TreeVerifier(tuple(fitted), bias, cutoff)


def _grow(
    nodes: list[Node],
    rows: Any,
    level: int,
    binned: Any,
    edges: list[Any],
    grad: Any,
    hess: Any,
    z: Any,
    depth: int,
    min_leaf: int,
    l2: float,
    learning_rate: float,
) -> int:
    """Append the subtree over ``rows`` to ``nodes`` (pre-order); add its leaves to ``z``."""
    import numpy as np

    at = len(nodes)
    g, h = float(grad[rows].sum()), float(hess[rows].sum())
    best: tuple[float, int, int] | None = None  # gain, feature, bin
    if level < depth and len(rows) >= 2 * min_leaf:
        parent = g * g / (h + l2)
        for j, e in enumerate(edges):
            if not len(e):
                continue
            b = binned[rows, j]
            gl = np.cumsum(np.bincount(b, weights=grad[rows], minlength=len(e) + 1))[: len(e)]
            hl = np.cumsum(np.bincount(b, weights=hess[rows], minlength=len(e) + 1))[: len(e)]
            nl = np.cumsum(np.bincount(b, minlength=len(e) + 1))[: len(e)]
            gain = gl**2 / (hl + l2) + (g - gl) ** 2 / (h - hl + l2) - parent
            gain[(nl < min_leaf) | (len(rows) - nl < min_leaf)] = -np.inf
            k = int(np.argmax(gain))
            if gain[k] > 1e-9 and (best is None or gain[k] > best[0]):
                best = (float(gain[k]), j, k)
    if best is None:
        value = -learning_rate * g / (h + l2)
        nodes.append((-1, 0.0, 0, 0, value))
        z[rows] += value
        return at
    _, j, k = best
    nodes.append((j, float(edges[j][k]), 0, 0, 0.0))  # children filled in below
    go_left = binned[rows, j] <= k
    args = (binned, edges, grad, hess, z, depth, min_leaf, l2, learning_rate)
    left = _grow(nodes, rows[go_left], level + 1, *args)
    right = _grow(nodes, rows[~go_left], level + 1, *args)
    nodes[at] = (j, float(edges[j][k]), left, right, 0.0)
    return at
