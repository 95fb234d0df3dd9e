"""Spot economics: the closed form and the Monte Carlo simulation agree; verdicts are plain."""

from __future__ import annotations

import statistics

import pytest

from mlcost.errors import InvalidInput, UnknownName
from mlcost.plan.spot import (
    daly_interval,
    expected_hours,
    plan_spot,
    rate_from_bucket,
    simulate,
    young_interval,
)

# (work hours, interruptions per hour, checkpoint h, restart h, interval h or None for Daly)
GRID = [
    (24, 0.01, 2 / 60, 10 / 60, None),
    (100, 0.05, 5 / 60, 0.25, None),
    (10, 0.2, 0.1, 0.2, None),
    (50, 0.02, 0.02, 0.1, 2.0),
    (8, 0.5, 0.05, 0.1, 0.5),
    (200, rate_from_bucket(">20%"), 0.1, 0.3, None),
]


@pytest.mark.parametrize(("work", "rate", "c", "r", "tau"), GRID)
def test_monte_carlo_agrees_with_closed_form(
    work: float, rate: float, c: float, r: float, tau: float | None
) -> None:
    m = 1 / rate
    tau = tau or daly_interval(c, m)
    closed = expected_hours(work, tau, c, r, m)
    mean = statistics.fmean(simulate(work, tau, c, r, m, runs=20_000, seed=1))
    assert abs(mean - closed) / closed < 0.02


def test_young_and_daly() -> None:
    # Young: sqrt(2 * 0.1 * 10) = sqrt(2); Daly (2006) eq. 37 with x = C / 2M = 0.005.
    assert young_interval(0.1, 10) == pytest.approx(2**0.5)
    assert daly_interval(0.1, 10) == pytest.approx(2**0.5 * (1 + 0.005**0.5 / 3 + 0.005 / 9) - 0.1)
    assert daly_interval(30, 10) == 10


def test_spot_not_worth_it_is_said_plainly() -> None:
    plan = plan_spot(
        work_hours=24,
        ondemand_usd_per_hour=10,
        spot_usd_per_hour=9.5,
        interruptions_per_hour=0.5,
        checkpoint_minutes=10,
        restart_minutes=30,
    )
    assert not plan.worth_it
    assert plan.verdict.startswith("Spot is not worth it")


def test_diversifying_pools_shortens_the_wait() -> None:
    one = plan_spot(
        work_hours=24,
        ondemand_usd_per_hour=10,
        spot_usd_per_hour=3,
        interruptions_per_hour=0.1,
        capacity_wait_minutes=60,
        pools=1,
    )
    four = plan_spot(
        work_hours=24,
        ondemand_usd_per_hour=10,
        spot_usd_per_hour=3,
        interruptions_per_hour=0.1,
        capacity_wait_minutes=60,
        pools=4,
    )
    assert four.spot_wall_hours < one.spot_wall_hours


def test_bad_input() -> None:
    with pytest.raises(UnknownName, match="5-10%"):
        rate_from_bucket("5-10")
    with pytest.raises(InvalidInput, match="work hours"):
        plan_spot(
            work_hours=-1, ondemand_usd_per_hour=1, spot_usd_per_hour=1, interruptions_per_hour=0.1
        )


def test_a_job_interrupted_far_more_often_than_it_checkpoints_never_finishes() -> None:
    # e^(restart / MTBI) overflows a float: the expected time is infinite, not an error.
    # (Found by schemathesis through /api/v1/plan/spot.)
    assert expected_hours(900_000, 16.0, 16.0, 18.7, 1 / 74.4) == float("inf")
