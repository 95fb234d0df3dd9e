"""Batch planning on small hand-checked cases, and ``mlcost plan batch``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlcost.cli.main import main
from mlcost.errors import InvalidInput, NoFit
from mlcost.plan.batch import cheapest_start, offpeak_schedule, plan_workers, read_prices

# 1 worker: 100 items/s. Steps add 95, 87.5 per worker, then 12.5 per worker (the loader
# saturates): adding workers stops paying past 4.
CURVE = [(1, 100.0), (2, 195.0), (4, 370.0), (8, 420.0)]


def test_saturation_and_costs_by_hand() -> None:
    plan = plan_workers(360_000, CURVE, usd_per_worker_hour=2.0)
    assert plan.saturation_workers == 4
    by = {o.workers: o for o in plan.options}
    assert by[1].hours == pytest.approx(1.0)  # 360,000 / 100 / 3600
    assert by[1].cost == pytest.approx(2.0)
    assert by[8].marginal_items_per_second == pytest.approx(12.5)
    assert by[8].cost == pytest.approx(360_000 / 420 / 3600 * 8 * 2, abs=1e-4)
    # Sub-linear scaling: with no deadline, one worker is cheapest.
    assert plan.recommended_workers == 1 and plan.meets_deadline


def test_deadline_picks_the_cheapest_count_in_time() -> None:
    plan = plan_workers(360_000, CURVE, usd_per_worker_hour=2.0, deadline_hours=0.3)
    # 1 worker: 1 h, 2: 0.513 h, 4: 0.270 h, 8: 0.238 h -> 4 is the cheapest that fits.
    assert plan.recommended_workers == 4 and plan.meets_deadline
    late = plan_workers(360_000, CURVE, usd_per_worker_hour=2.0, deadline_hours=0.1)
    assert late.recommended_workers == 8 and not late.meets_deadline


def test_curve_errors_say_what_to_measure() -> None:
    with pytest.raises(InvalidInput, match="1 worker"):
        plan_workers(10, [(2, 100.0)], usd_per_worker_hour=1)
    with pytest.raises(InvalidInput, match="twice"):
        plan_workers(10, [(1, 1.0), (1, 2.0)], usd_per_worker_hour=1)
    with pytest.raises(InvalidInput, match="positive"):
        plan_workers(0, CURVE, usd_per_worker_hour=1)


T0 = datetime(2026, 11, 2, 0, tzinfo=UTC)


def test_cheapest_start_by_hand() -> None:
    # 4 USD/h until 02:00, 1 USD/h 02:00-05:00, 3 USD/h after. A 2 h run, deadline 08:00.
    sched = [(T0, 4.0), (T0 + timedelta(hours=2), 1.0), (T0 + timedelta(hours=5), 3.0)]
    w = cheapest_start(sched, hours=2, earliest=T0, deadline=T0 + timedelta(hours=8), workers=3)
    assert w.start == T0 + timedelta(hours=2)
    assert w.cost == pytest.approx(2 * 1.0 * 3)
    assert w.cost_if_started_now == pytest.approx(2 * 4.0 * 3)
    assert w.saving == pytest.approx(18.0)
    # A tight deadline forces a dearer start: it must end by 03:00 -> start 01:00, 1 h at 4 + 1 h at 1.
    w = cheapest_start(sched, hours=2, earliest=T0, deadline=T0 + timedelta(hours=3))
    assert (w.start, w.cost) == (T0 + timedelta(hours=1), pytest.approx(5.0))
    with pytest.raises(NoFit, match="cannot fit"):
        cheapest_start(sched, hours=4, earliest=T0, deadline=T0 + timedelta(hours=3))


def test_offpeak_schedule_wraps_midnight() -> None:
    sched = offpeak_schedule(T0, 1, peak_usd_per_hour=2.0, offpeak_usd_per_hour=1.0)
    prices = [p for _, p in sched]
    assert prices[:6] == [1.0] * 6 and prices[6:22] == [2.0] * 16 and prices[22:] == [1.0] * 2
    w = cheapest_start(
        sched, hours=6, earliest=T0 + timedelta(hours=8), deadline=T0 + timedelta(hours=24)
    )
    assert w.start == T0 + timedelta(hours=18)  # 4 peak hours + 2 off-peak is the best that fits
    assert w.cost == pytest.approx(4 * 2.0 + 2 * 1.0)


def test_cli_batch_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "spot.csv"
    prices.write_text(
        "time,usd_per_hour\n2026-11-02T00:00:00,4\n2026-11-02T02:00:00,1\n2026-11-02T05:00:00,3\n"
    )
    assert read_prices(prices)[1] == (T0 + timedelta(hours=2), 1.0)
    args = [
        "plan",
        "batch",
        "--items",
        "360000",
        "--curve",
        "1:100,2:195,4:370,8:420",
        "--usd-per-worker-hour",
        "2",
        "--deadline-hours",
        "8",
        "--prices",
        str(prices),
        "--format",
        "json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["saturation_workers"] == 4 and out["recommended_workers"] == 1
    assert out["window"]["start"] == "2026-11-02T02:00:00+00:00"
    assert (
        main(["plan", "batch", "--items", "1", "--curve", "1-100", "--usd-per-worker-hour", "1"])
        == 2
    )
