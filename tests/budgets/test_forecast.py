"""The period-end forecast: exact on known series, honest intervals on noisy ones."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from mlcost.budgets.forecast import MIN_DAYS, forecast_total

MARCH = date(2026, 3, 1)
APRIL = date(2026, 4, 1)


def _days(n: int, f: object) -> list[tuple[date, float]]:
    return [(MARCH + timedelta(days=i), f(MARCH + timedelta(days=i), i)) for i in range(n)]  # type: ignore[operator]


def test_linear_growth_is_projected_exactly() -> None:
    # 10 + 2i per day, 12 days seen: the month's total is the sum over all 31 days.
    f = forecast_total(_days(12, lambda d, i: 10.0 + 2 * i), period_end=APRIL)
    assert f.total == pytest.approx(sum(10 + 2 * i for i in range(31)))
    assert f.low == pytest.approx(f.total) and f.high == pytest.approx(f.total)  # no noise
    assert (f.days_observed, f.days_left, f.model) == (12, 19, "trend")


def test_weekday_pattern_is_projected_exactly() -> None:
    # 100 on weekdays, 20 on weekends, flat: three weeks seen, the rest of March follows.
    def cost(d: date, _i: int) -> float:
        return 20.0 if d.weekday() >= 5 else 100.0

    f = forecast_total(_days(21, cost), period_end=APRIL)
    truth = sum(cost(MARCH + timedelta(days=i), i) for i in range(31))
    assert f.model == "trend+weekday"
    assert f.total == pytest.approx(truth)


def test_too_little_history_says_so_instead_of_guessing() -> None:
    f = forecast_total(_days(MIN_DAYS - 1, lambda d, i: 5.0), period_end=APRIL)
    assert f.total is None and f.low is None
    assert "too little history" in f.reason and f.spent == 5.0 * (MIN_DAYS - 1)


def test_complete_period_forecast_is_what_was_spent() -> None:
    f = forecast_total(_days(31, lambda d, i: 1.0), period_end=APRIL)
    assert (f.total, f.days_left) == (31.0, 0)


def test_interval_covers_about_80_percent_of_simulated_months() -> None:
    # Trend + weekday + Gaussian noise, 16 days seen; the truth is the simulated month's sum.
    rng = random.Random(7)
    hits, runs = 0, 600
    for _ in range(runs):
        level, slope = rng.uniform(50, 150), rng.uniform(-1, 3)
        week = [rng.uniform(-20, 20) for _ in range(7)]
        month = [
            level + slope * i + week[(MARCH + timedelta(days=i)).weekday()] + rng.gauss(0, 10)
            for i in range(31)
        ]
        seen = [(MARCH + timedelta(days=i), month[i]) for i in range(16)]
        f = forecast_total(seen, period_end=APRIL)
        assert f.low is not None and f.high is not None
        hits += f.low <= sum(month) <= f.high
    assert 0.75 <= hits / runs <= 0.85, hits / runs
