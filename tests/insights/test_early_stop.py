"""Early stopping: a run that trained on past its plateau, and the curves that must not fire."""

from __future__ import annotations

from typing import Any

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.early_stop import PATIENCE, detect_early_stop, find_plateau
from tests.insights.conftest import gpu_host, hour, put, workload

HOURS = 24
PRICE = 10.0  # USD an hour: the run costs 240 USD


def _run(wh: Warehouse, key: str, values: list[float], **params: str) -> None:
    """A 24 h run on one GPU host, evaluated len(values) times, evenly from 0 h to 24 h."""
    bill, _ = gpu_host("i-ft", range(HOURS), PRICE, lambda q: 0.9, tags={"team": "nlp"})
    put(wh, "cost_line_items", bill)
    w = workload("tracker:ft-7", "i-ft", 0, HOURS, 1, params=params, experiment="atlas-ft")
    put(wh, "workloads", [w])
    n = len(values)
    points: list[dict[str, Any]] = [
        {
            "workload_id": "tracker:ft-7",
            "key": key,
            "step": 100 * (i + 1),
            "time": hour(HOURS * (i + 1) / n),
            "value": v,
            "source": "test",
            "ingest_id": 1,
        }
        for i, v in enumerate(values)
    ]
    put(wh, "run_metrics", points)


def _plateau_at(i: int, n: int = 48) -> list[float]:
    """A loss that falls 3 % an evaluation until evaluation i, then wobbles 0.2 %."""
    falling = [2.0 * 0.97**k for k in range(i + 1)]
    return falling + [falling[-1] * (1.002 if k % 2 else 0.998) for k in range(n - i - 1)]


def test_run_that_trained_past_its_plateau(wh: Warehouse) -> None:
    # 48 evaluations every 30 min; the last improvement is evaluation 19 (index), at 10 h.
    _run(wh, "eval_loss", _plateau_at(19))
    [f] = detect_early_stop(Context(wh))
    ev = f.evidence
    assert ev["metric"] == "eval_loss" and ev["last_improvement_step"] == 2000
    # Stop point: 5 evaluations later, index 24, logged at 12.5 h; 11.5 h of 24 h follow it.
    assert ev["stop_step"] == 2500 and ev["stop_time"] == "2026-10-01T12:30Z"
    assert ev["fraction_after_stop"] == round(11.5 / 24, 6)
    # By hand: 240 USD x 11.5 / 24 = 115 USD, spent once (not scaled to a month).
    assert ev["run_cost"] == 240 and ev["window_waste"] == 115
    assert f.monthly_saving.expected == 115 and f.saving_type == "one_off"
    assert f.monthly_saving.low <= f.monthly_saving.expected <= f.monthly_saving.high
    assert f.resource_id == "i-ft" and f.owner == "nlp" and "atlas-ft" in f.action


def test_accuracy_plateau_is_read_the_right_way_up(wh: Warehouse) -> None:
    # Higher is better for accuracy: the same shape, mirrored.
    values = [1 - v / 4 for v in _plateau_at(19)]
    _run(wh, "val_accuracy", values)
    [f] = detect_early_stop(Context(wh))
    assert f.evidence["stop_step"] == 2500


def test_slow_but_steady_improvement_is_not_a_plateau(wh: Warehouse) -> None:
    # Near-miss: 1 % better every evaluation to the end (over the 0.5 % min_delta).
    _run(wh, "eval_loss", [2.0 * 0.99**k for k in range(48)])
    assert detect_early_stop(Context(wh)) == []


def test_late_breakthrough_resets_the_plateau(wh: Warehouse) -> None:
    # Near-miss: flat from evaluation 19, then a new best at evaluation 44: the stop point
    # would be past the end of the run.
    values = _plateau_at(19)
    values[44] = values[19] * 0.9
    _run(wh, "eval_loss", values)
    assert detect_early_stop(Context(wh)) == []


def test_plateau_in_the_last_tenth_is_not_worth_a_finding(wh: Warehouse) -> None:
    # Near-miss: the stop point is evaluation 45 of 48: 1.5 h of 24 h (6 %) after it.
    _run(wh, "eval_loss", _plateau_at(40))
    assert detect_early_stop(Context(wh)) == []


def test_the_monitor_parameter_picks_the_metric(wh: Warehouse) -> None:
    # The run says it monitors eval_loss; the train loss (also logged) keeps falling.
    _run(wh, "eval_loss", _plateau_at(19), monitor="eval_loss")
    put(
        wh,
        "run_metrics",
        [
            {"workload_id": "tracker:ft-7", "key": "loss", "step": 100 * (i + 1),
             "time": hour(i / 2), "value": 2.0 * 0.95**i, "source": "test", "ingest_id": 1}
            for i in range(48)
        ],
    )  # fmt: skip
    [f] = detect_early_stop(Context(wh))
    assert f.evidence["metric"] == "eval_loss"


def test_find_plateau_noise_under_min_delta_does_not_move_the_best() -> None:
    # 0.2 % wobbles are noise: the best stays at evaluation 1.
    values = [1.0, 0.9] + [0.898 if k % 2 else 0.902 for k in range(10)]
    p = find_plateau(values, minimize=True)
    assert p is not None and p.last_improvement == 1 and p.stop == 1 + PATIENCE
    # A slow drift of 0.3 % an evaluation adds up past min_delta: it still improves.
    drift = [0.9 * 0.997**k for k in range(12)]
    assert find_plateau(drift, minimize=True) is None
