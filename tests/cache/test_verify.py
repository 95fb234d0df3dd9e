"""Verifiers and verifier-in-the-loop calibration on small hand-made pairs.

The near misses are the ones users of GPTCache and RedisVL report: the same question about
another version, number, or with the question word or a negation changed. An embedding puts
them next to each other; the cached answer is wrong for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlcost.cache import (
    HashingEmbedder,
    PairVerifier,
    SemanticCache,
    TreeVerifier,
    calibrate_learned,
    calibrate_threshold,
    calibrate_verified,
    fit_tree_verifier,
    fit_verifier,
    load_verifier,
    same_key_terms,
    score_pairs,
)
from mlcost.cache.verify import FEATURES, feature_matrix, pair_features
from mlcost.cli.main import main
from mlcost.errors import BadValue, InvalidInput, NoFit

EMB = HashingEmbedder()

TOPICS = [
    ("learn Python {n}", "get started with Python {n}"),
    ("install CUDA {n} on Ubuntu", "set up CUDA {n} on Ubuntu"),
    ("train a ResNet-{n} on ImageNet", "fit a ResNet-{n} to ImageNet"),
    ("rent {n} H100 GPUs for a week", "hire {n} H100 GPUs for one week"),
    ("cut our AWS bill by {n} percent", "reduce the AWS bill by {n} percent"),
    ("fine-tune Llama {n} cheaply", "fine tune Llama {n} at low cost"),
    ("run Spark {n} on Kubernetes", "deploy Spark {n} on Kubernetes"),
    ("migrate to PostgreSQL {n}", "move our database to PostgreSQL {n}"),
]


def hand_pairs() -> tuple[list[tuple[str, str]], list[int]]:
    """Paraphrases (1) and near misses (0): another number, another question word, a negation."""
    pairs: list[tuple[str, str]] = []
    labels: list[int] = []
    for a, b in TOPICS:
        for n, m in ((2, 3), (8, 16), (11, 12)):
            pairs.append((f"How do I {a.format(n=n)}?", f"How can I {b.format(n=n)}?"))
            labels.append(1)
            pairs.append((f"How do I {a.format(n=n)}?", f"How do I {a.format(n=m)}?"))
            labels.append(0)
        pairs.append((f"How do I {a.format(n=4)}?", f"Why do I {a.format(n=4)}?"))
        labels.append(0)
        pairs.append((f"Should I {a.format(n=5)}?", f"Should I not {a.format(n=5)}?"))
        labels.append(0)
    return pairs, labels


def test_features_of_a_near_miss() -> None:
    f = dict(
        zip(
            FEATURES,
            pair_features("How do I learn Python 2?", "How do I learn Python 3?", 0.97),
            strict=True,
        )
    )
    assert f["cosine"] == 0.97
    assert f["number_mismatch"] == 1.0 and f["negation_mismatch"] == 0.0
    assert f["question_word_mismatch"] == 0.0 and f["length_ratio"] == 1.0
    # {how, do, i, learn, python} shared, 2 and 3 not: 5 of 7 words.
    assert f["word_jaccard"] == pytest.approx(5 / 7)
    why_how = pair_features("Why is the sky blue", "How is the sky blue", 0.9)
    g = dict(zip(FEATURES, why_how, strict=True))
    assert g["question_word_mismatch"] == 1.0 and g["content_jaccard"] == 1.0
    assert pair_features("Is it safe?", "Is it not safe?", 0.9)[FEATURES.index("negation_mismatch")]


def test_rule_verifier_rejects_near_misses_and_passes_rephrasings() -> None:
    rule = PairVerifier.rule()
    assert not rule("How do I learn Python 2?", "How do I learn Python 3?", similarity=0.97)
    assert not rule("Why is my GPU idle?", "How is my GPU idle?", similarity=0.95)
    assert not rule("Is spot safe for training?", "Is spot not safe for training?")
    assert rule("How do I learn Python 3?", "How can I get started with Python 3?")


def test_fitted_verifier_learns_the_near_misses_and_round_trips(tmp_path: Path) -> None:
    pairs, labels = hand_pairs()
    sims = score_pairs(pairs, EMB)
    v = fit_verifier(pairs, sims, labels)
    sim = float(score_pairs([("How do I learn Python 2?", "How do I learn Python 3?")], EMB)[0])
    assert sim > 0.8  # the embedder alone would serve it at any usual threshold
    assert not v("How do I learn Python 3?", "How do I learn Python 2?", similarity=sim)
    assert v.probability("How do I learn Python 3?", "How do I learn Python 2?", sim) < 0.1
    para = ("How do I learn Python 3?", "How can I get started with Python 3?")
    assert v(para[1], para[0], similarity=float(score_pairs([para], EMB)[0]))
    # Kept as a small JSON file, read back to the same decisions.
    path = v.with_cutoff(0.7).save(tmp_path / "verifier.json")
    loaded = PairVerifier.load(path)
    assert loaded == v.with_cutoff(0.7)
    assert json.loads(path.read_text())["features"] == list(FEATURES)


def test_loading_something_else_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "v.json"
    bad.write_text('{"weights": [1, 2]}')
    with pytest.raises(BadValue, match=r"v\.json.*PairVerifier"):
        PairVerifier.load(bad)
    old = PairVerifier.rule().to_dict() | {"features": ["cosine"]}
    bad.write_text(json.dumps(old))
    with pytest.raises(InvalidInput, match="refit"):
        PairVerifier.load(bad)
    with pytest.raises(InvalidInput, match="both kinds"):
        fit_verifier([("a", "b")], [0.5], [1])


def test_verifier_in_the_loop_buys_recall_by_hand() -> None:
    # cos:    0.99 0.95 0.93 0.90 0.88 0.85 0.80
    # label:    1    0    1    1    0    1    0
    # verify:   1    0    1    1    0    1    1
    # Cosine alone at 100% precision: only 0.99 (recall 1/4). With the verifier the two
    # wrong pairs above 0.85 are rejected, so threshold 0.85 serves all four (recall 4/4);
    # at 0.80 the verifier passes a wrong one.
    cos = [0.99, 0.95, 0.93, 0.90, 0.88, 0.85, 0.80]
    labels = [1, 0, 1, 1, 0, 1, 0]
    says = [1, 0, 1, 1, 0, 1, 1]
    c = calibrate_verified(cos, says, labels, target_precision=1.0)
    assert (c.threshold, c.cutoff, c.precision, c.recall) == (0.85, 1.0, 1.0, 1.0)
    assert c.hit_rate == 4 / 7
    assert c.cosine is not None and (c.cosine.threshold, c.cosine.recall) == (0.99, 0.25)
    # Equal recall at a stricter threshold: the stricter one stays.
    assert calibrate_verified([0.9, 0.8], [1, 1], [1, 0], target_precision=1.0).threshold == 0.9
    with pytest.raises(NoFit):
        calibrate_verified([0.9, 0.8], [1, 1], [0, 1], target_precision=1.0)


def test_learned_calibration_beats_cosine_on_near_misses() -> None:
    pairs, labels = hand_pairs()
    sims = score_pairs(pairs, EMB)
    verifier, cal = calibrate_learned(pairs, sims, labels, target_precision=0.95)
    # Out-of-fold: every near miss was scored by a model that never saw it.
    assert cal.precision >= 0.95 and verifier.cutoff == cal.cutoff
    cosine_recall = cal.cosine.recall if cal.cosine is not None else 0.0
    assert cal.recall > cosine_recall
    # The same pairs through a real cache: near misses are refused, rephrasings served.
    cache = SemanticCache(threshold=cal.threshold, embedder=EMB, index="exact", verify=verifier)
    cache.store("How do I learn Python 2?", "use 2to3 sparingly", model="m")
    assert cache.lookup("How do I learn Python 3?", model="m") is None
    assert cache.rejected >= 1 or cal.threshold > 0.99


def test_semantic_cache_passes_similarity_to_a_pair_verifier() -> None:
    # Weight on cosine only: serves above similarity 0.9, whatever the cache threshold.
    n = len(FEATURES)
    weights = [0.0] * n
    weights[FEATURES.index("cosine")] = 100.0
    only_cosine = PairVerifier(tuple(weights), -90.0, (0.0,) * n, (1.0,) * n)
    cache = SemanticCache(threshold=0.0, embedder=EMB, index="exact", verify=only_cosine)
    cache.store("reset my password please", "A", model="m")
    assert cache.lookup("reset my password please", model="m") is not None
    assert cache.lookup("password reset for my account", model="m") is None
    assert cache.rejected == 1
    # A plain callable still gets three arguments.
    plain = SemanticCache(threshold=0.0, embedder=EMB, index="exact", verify=same_key_terms)
    plain.store("top 5 GPUs", "A", model="m")
    assert plain.lookup("top 10 GPUs", model="m") is None


def test_cli_calibrates_with_a_learned_verifier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs, labels = hand_pairs()
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text_a": a, "text_b": b, "label": y}) + "\n"
            for (a, b), y in zip(pairs, labels, strict=True)
        )
    )
    saved = tmp_path / "verifier.json"
    args = ["cache", "calibrate", str(path), "--embedder", "hashing", "--target-precision", "0.9"]
    code = main([*args, "--verifier", "learned", "--save-verifier", str(saved), "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verifier"] == "learned" and out["precision"] >= 0.9
    cosine_recall = out["cosine"]["recall"] if out["cosine"] else 0.0
    assert out["recall"] > cosine_recall
    loaded = load_verifier(saved)
    assert isinstance(loaded, TreeVerifier) and loaded.cutoff == out["cutoff"]
    assert main([*args, "--verifier", "logistic", "--save-verifier", str(saved)]) == 0
    capsys.readouterr()
    assert isinstance(load_verifier(saved), PairVerifier)
    # The table shows both rows and how to use the result. same_key_terms lets "why" for
    # "how" through (8 of 32 pairs it passes are wrong), so it cannot reach 90% here.
    assert main([*args[:-1], "0.7", "--verifier", "key-terms", "--confidence", "0"]) == 0
    text = capsys.readouterr().out
    assert "cosine + key-terms" in text and "verify=same_key_terms" in text
    # Where cosine alone cannot reach the target, the table says so instead of hiding the row.
    assert main([*args, "--verifier", "learned"]) == 0
    text = capsys.readouterr().out
    assert "cosine: no threshold reaches the target" in text and "--save-verifier" in text
    assert "90% confidence" in text  # the default, said in the title
    assert main([*args, "--save-verifier", str(saved)]) != 0
    assert "--verifier learned" in capsys.readouterr().err


def test_a_verifier_that_passes_everything_is_plain_cosine() -> None:
    rng = np.random.default_rng(0)
    cos = rng.uniform(0.5, 1.0, 300)
    labels = (rng.uniform(0, 1, 300) < cos**4).astype(int).tolist()
    plain = calibrate_threshold(cos.tolist(), labels, target_precision=0.9)
    both = calibrate_verified(cos.tolist(), [1.0] * 300, labels, target_precision=0.9)
    assert both.cosine == plain
    assert (both.threshold, both.recall, both.precision) == (
        plain.threshold,
        plain.recall,
        plain.precision,
    )


def interaction_pairs() -> tuple[list[tuple[str, str]], list[int]]:
    """Near-identical pairs are right unless a number differs; loose ones are right when short.

    Neither rule is a sum of one-feature effects (a near-identical pair with another number
    is wrong, a loosely similar one with the same numbers need not be right), which is what
    a linear model over the features cannot express and trees can.
    """
    pairs: list[tuple[str, str]] = []
    labels: list[int] = []
    for i, (a, b) in enumerate(TOPICS * 6):
        n = 2 + i
        pairs.append((f"How do I {a.format(n=n)}?", f"how do i {a.format(n=n)}"))
        labels.append(1)
        pairs.append((f"How do I {a.format(n=n)}?", f"How do I {a.format(n=n + 1)}?"))
        labels.append(0)
        pairs.append((f"How do I {a.format(n=n)}?", f"How can I {b.format(n=n)}?"))
        labels.append(i % 2)
    return pairs, labels


def test_tree_verifier_learns_an_interaction_and_round_trips(tmp_path: Path) -> None:
    pairs, labels = interaction_pairs()
    sims = score_pairs(pairs, EMB)
    trees = fit_tree_verifier(pairs, sims, labels, trees=50, min_leaf=5)
    x = feature_matrix(pairs, sims)
    prob = trees.probabilities(x)
    # The batch path and the per-pair path a cache uses agree.
    one = [trees.probability(q, c, s) for (c, q), s in zip(pairs, sims, strict=True)]
    assert np.allclose(prob, one)
    y = np.asarray(labels)
    # Every near-identical pair with another number is refused; every exact rephrasing served.
    assert (prob[1::3] < 0.5).all() and (prob[0::3] > 0.5).all()
    # A saved verifier reads back as the same function, cutoff included.
    path = trees.with_cutoff(0.7).save(tmp_path / "trees.json")
    loaded = load_verifier(path)
    assert isinstance(loaded, TreeVerifier) and loaded.cutoff == 0.7
    assert np.array_equal(loaded.probabilities(x), prob)
    # On the decided pairs the trees are right where a logistic model over the same
    # features errs at least as often.
    logistic = fit_verifier(pairs, sims, labels).probabilities(x)
    decided = np.r_[0 : len(y) : 3, 1 : len(y) : 3]
    assert ((prob[decided] >= 0.5) == y[decided]).all()
    assert ((logistic[decided] >= 0.5) == y[decided]).sum() <= len(decided)


def test_tree_verifier_in_a_cache_and_bad_files(tmp_path: Path) -> None:
    pairs, labels = interaction_pairs()
    sims = score_pairs(pairs, EMB)
    trees = fit_tree_verifier(pairs, sims, labels, trees=50, min_leaf=5)
    cache = SemanticCache(threshold=0.5, embedder=EMB, index="exact", verify=trees)
    cache.store("How do I learn Python 3?", "python3 -m venv", model="m")
    assert cache.lookup("how do i learn python 3", model="m") is not None
    assert cache.lookup("How do I learn Python 4?", model="m") is None
    assert cache.rejected == 1
    bad = tmp_path / "v.json"
    bad.write_text(json.dumps({"kind": "mlcost.cache.TreeVerifier", "bias": 0}))
    with pytest.raises(BadValue, match=r"v\.json.*not a saved verifier"):
        load_verifier(bad)
    first = trees.to_dict()["trees"][0]
    deeper = next(i for i, node in enumerate(first) if i >= 2 and node[0] >= 0)
    # A child that does not exist; a child above its parent (a loop that would never end).
    for at, child in ((0, 999), (deeper, 1)):
        outside = trees.to_dict()
        outside["trees"][0][at][2] = child
        bad.write_text(json.dumps(outside))
        with pytest.raises(InvalidInput, match="points outside"):
            load_verifier(bad)
    trees.save(bad)
    with pytest.raises(BadValue, match="holds a TreeVerifier, not a PairVerifier"):
        PairVerifier.load(bad)
    with pytest.raises(InvalidInput, match="both kinds"):
        fit_tree_verifier(pairs[:1], sims[:1], [1])
