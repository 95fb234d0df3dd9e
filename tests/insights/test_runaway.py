"""Runaway jobs: far past the family's usual duration or the declared max_hours."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.runaway import detect_runaway
from tests.insights.conftest import gpu_host, put, workload


def _family(wh: Warehouse, runaway_hours: int, **params: str) -> None:
    # Three runs of 10, 12 and 11 hours and a fourth one; each on its own 4 USD/h host.
    bills, runs, start = [], [], 0
    for i, h in enumerate((10, 12, 11, runaway_hours)):
        bill, _ = gpu_host(f"host-{i}", range(start, start + h), 4.0, lambda q: 0.9)
        bills += bill
        extra = {"params": list(params.items())} if i == 3 else {}
        runs.append(
            {
                **workload(f"tracker:run-{i}", f"host-{i}", start, start + h, 1),
                **extra,
                "experiment": "seg",
            }
        )
        start += h
    put(wh, "cost_line_items", bills)
    put(wh, "workloads", runs)


def test_run_far_past_the_family_median(wh: Warehouse) -> None:
    # 60 h against a median of 11 h of the other runs: the 49 hours after 11 h are wasted.
    _family(wh, 60)
    [f] = detect_runaway(Context(wh))
    assert f.resource_id == "host-3" and f.evidence["expected_hours"] == 11.0
    assert f.evidence["hours_past_expected"] == 49
    assert f.evidence["window_waste"] == 49 * 4.0


def test_declared_max_hours_wins(wh: Warehouse) -> None:
    # The run declared max_hours=5: the 55 hours after it are the waste.
    _family(wh, 60, max_hours="5")
    [f] = detect_runaway(Context(wh))
    assert f.evidence["expected_basis"] == "declared max_hours"
    assert f.evidence["hours_past_expected"] == 55


def test_a_somewhat_long_run_is_not_runaway(wh: Warehouse) -> None:
    # Near-miss: 25 h is slower than usual (11 h) but not three times it.
    _family(wh, 25)
    assert detect_runaway(Context(wh)) == []


def test_median_of_the_others_is_the_median_without_each_run() -> None:
    import random
    import statistics

    from mlcost.insights.runaway import _median_without

    rng = random.Random(26)
    for n in (3, 4, 5, 10, 11):
        hours = sorted(rng.choice([1.0, 2.5, 4.0, rng.uniform(0, 50)]) for _ in range(n))
        for i in range(n):
            assert _median_without(hours, i) == statistics.median(hours[:i] + hours[i + 1 :])
