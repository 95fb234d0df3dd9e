"""Threshold calibration on hand-checked pairs and on a PAWS sample (tests/cache/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcost.cache import HashingEmbedder, calibrate_threshold, read_pairs, score_pairs
from mlcost.cache.calibrate import sweep
from mlcost.cli.main import main
from mlcost.errors import BadValue, InvalidInput, MissingColumn, NoFit

DATA = Path(__file__).parent / "data"


def test_sweep_by_hand() -> None:
    # scores 0.9 (1), 0.8 (0), 0.8 (1), 0.5 (1): the two 0.8s hit together.
    assert sweep([0.9, 0.8, 0.8, 0.5], [1, 0, 1, 1]) == [
        (0.9, 1.0, 1 / 3, 0.25),
        (0.8, 2 / 3, 2 / 3, 0.75),
        (0.5, 0.75, 1.0, 1.0),
    ]


def test_lowest_threshold_meeting_the_target() -> None:
    scores = [0.99, 0.95, 0.93, 0.90, 0.85, 0.80]
    labels = [1, 1, 1, 0, 1, 0]
    c = calibrate_threshold(scores, labels, target_precision=0.75)
    # at 0.85: 4 right of 5 hits = 0.8 >= 0.75; at 0.80: 4/6 < 0.75
    assert (c.threshold, c.precision, c.recall, c.hit_rate) == (0.85, 0.8, 1.0, 5 / 6)
    assert calibrate_threshold(scores, labels, target_precision=1.0).threshold == 0.93


def test_unreachable_target_and_one_sided_labels_say_so() -> None:
    with pytest.raises(NoFit, match="Lower --target-precision"):
        calibrate_threshold([0.9, 0.8], [0, 1], target_precision=0.99)
    with pytest.raises(InvalidInput, match="both kinds"):
        calibrate_threshold([0.9, 0.8], [1, 1])
    with pytest.raises(InvalidInput):
        calibrate_threshold([0.9, 0.8], [1, 0], target_precision=0)


def test_read_pairs_formats_and_errors(tmp_path: Path) -> None:
    pairs, labels = read_pairs(DATA / "paws_sample.tsv")
    assert len(pairs) == len(labels) == 400
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("text_a,text_b,label\nhi there,hello there,1\na,b,0\n")
    assert read_pairs(csv_path) == ([("hi there", "hello there"), ("a", "b")], [1, 0])
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"text_a": "x", "text_b": "y", "label": 0}\n')
    assert read_pairs(jsonl) == ([("x", "y")], [0])
    bad = tmp_path / "bad.csv"
    bad.write_text("text_a,text_b,label\na,b,maybe\n")
    with pytest.raises(BadValue, match="row 1"):
        read_pairs(bad)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("a,b\n")
    with pytest.raises(MissingColumn, match="text_a"):
        read_pairs(nohead)


def test_calibration_on_paws_holds_on_held_out_pairs() -> None:
    # PAWS pairs share almost all words, so a lexical embedder cannot reach high precision
    # on them: the calibrated threshold must say so honestly, on pairs it was not fitted to.
    pairs, labels = read_pairs(DATA / "paws_sample.tsv")
    scores = score_pairs(pairs, HashingEmbedder())
    fit = calibrate_threshold(scores[:200], labels[:200], target_precision=0.6)
    held = [(s >= fit.threshold, y) for s, y in zip(scores[200:], labels[200:], strict=True)]
    tp = sum(1 for hit, y in held if hit and y)
    hits = sum(1 for hit, _ in held if hit)
    assert hits > 0
    assert tp / hits > 0.45  # precision does not collapse off the fitting pairs


def test_cli_calibrate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    path = tmp_path / "pairs.csv"
    rows = ["text_a,text_b,label"]
    rows += [f"how do I reset password {i},how do I reset my password {i},1" for i in range(10)]
    rows += [f"price of gpu {i},weather in city {i},0" for i in range(10)]
    path.write_text("\n".join(rows) + "\n")
    args = ["cache", "calibrate", str(path), "--embedder", "hashing", "--format", "json"]
    # 10 right hits out of 10 do not show 95 % precision with the default 90 % confidence
    # (the Wilson lower bound is 86 %): the CLI says so and what to do.
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "95% precision with 90% confidence" in err and "more labelled pairs" in err
    assert main([*args, "--confidence", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["confidence"] is None
    assert -1 <= out["threshold"] <= 1 and out["embedder"].startswith("hashing")


def test_confidence_takes_a_stricter_threshold_that_holds_on_new_pairs() -> None:
    # Scores whose true precision falls from 1.0 at the top to 0.5 at the bottom; each
    # calibration set is a fresh draw. The plain pick lands where chance lifted precision to
    # the target, so on new pairs it misses the target about half the time.
    import random

    rng = random.Random(7)

    def draw(n: int) -> tuple[list[float], list[int]]:
        scores = [rng.random() for _ in range(n)]
        return scores, [int(rng.random() < 0.5 + 0.5 * s) for s in scores]

    plain_held, sure_held = [], []
    for _ in range(40):
        fit_scores, fit_labels = draw(1000)
        new_scores, new_labels = draw(3000)
        for conf, out in ((None, plain_held), (0.9, sure_held)):
            cal = calibrate_threshold(fit_scores, fit_labels, target_precision=0.9, confidence=conf)
            hits = [y for s, y in zip(new_scores, new_labels, strict=True) if s >= cal.threshold]
            out.append(sum(hits) / len(hits))
            if conf is not None:
                assert cal.confidence == 0.9 and cal.precision >= 0.9
    # The bound holds per threshold and the sweep picks among many, so the pick can still
    # fall short on new pairs now and then — far less often and by less than the plain one.
    sure_short = sum(p < 0.9 for p in sure_held)
    plain_short = sum(p < 0.9 for p in plain_held)
    assert plain_short >= 2 * sure_short, (plain_short, sure_short)
    assert min(sure_held) > min(plain_held) and min(sure_held) > 0.86
