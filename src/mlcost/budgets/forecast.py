"""Forecast a period's end spend from its daily spend so far, with an 80% prediction interval.

The model is ordinary least squares on daily cost: a level, a linear trend in days, and (with
two weeks or more of history) one offset per weekday. The interval is the OLS prediction
interval of the *sum* of the remaining days, which counts both the day-to-day noise and the
uncertainty of the fitted coefficients; the t quantile uses the residual degrees of freedom.
The forecast and its bounds never fall below what was already spent.
With fewer than ``MIN_DAYS`` days the forecast says so instead of guessing.

    >>> from datetime import date
    >>> days = [(date(2026, 3, d), 10.0 + 2 * d) for d in range(1, 11)]
    >>> f = forecast_total(days, period_end=date(2026, 4, 1))
    >>> round(f.total, 6)   # sum of 10 + 2d for d = 1..31
    1302.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["MIN_DAYS", "WEEKDAY_DAYS", "Forecast", "forecast_total"]

MIN_DAYS = 7  # fewer days of history: no forecast
WEEKDAY_DAYS = 14  # two of each weekday before the weekday offsets are fitted
LEVEL = 0.80
_Z = 1.2815515655446004  # standard normal quantile at 0.90 (two-sided 80%)


@dataclass(frozen=True)
class Forecast:
    """The period's expected total and its 80% interval, or why there is none.

    ``total``, ``low`` and ``high`` are None when ``reason`` says there was too little history.
    ``spent`` is the sum of the observed days; ``days_observed`` and ``days_left`` count days.
    """

    spent: float
    total: float | None
    low: float | None
    high: float | None
    days_observed: int
    days_left: int
    model: str
    reason: str = ""


def _t_quantile(z: float, df: int) -> float:
    # Cornish-Fisher expansion of Student's t around the normal quantile; within 0.5% of the
    # exact value for df >= 5, so no SciPy at run time.
    df = max(df, 1)
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def _design(days: Sequence[date], origin: date, weekday: bool) -> list[list[float]]:
    rows = []
    for d in days:
        row = [1.0, float((d - origin).days)]
        if weekday:
            # Monday is the baseline; six offsets for Tuesday..Sunday.
            row += [1.0 if d.weekday() == k else 0.0 for k in range(1, 7)]
        rows.append(row)
    return rows


def forecast_total(
    daily: Sequence[tuple[date, float]],
    *,
    period_end: date,
    level: float = LEVEL,
) -> Forecast:
    """Project the total from ``daily`` (one amount per day, gaps count as 0) to ``period_end``.

    ``period_end`` is exclusive. Days between the first and the last given day that are
    missing count as zero spend; the days after the last given day are forecast.
    """
    import numpy as np

    if not daily:
        return Forecast(0.0, None, None, None, 0, 0, "none", "no spend recorded in the period yet")
    amounts = dict(daily)
    first, last = min(amounts), max(amounts)
    observed = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    y = np.array([float(amounts.get(d, 0.0)) for d in observed])
    spent = float(y.sum())
    future = [last + timedelta(days=i) for i in range(1, (period_end - last).days)]
    n = len(observed)
    if not future:
        return Forecast(spent, spent, spent, spent, n, 0, "complete")
    if n < MIN_DAYS:
        return Forecast(
            spent,
            None,
            None,
            None,
            n,
            len(future),
            "none",
            f"too little history: {n} day(s) of spend, a forecast needs {MIN_DAYS}",
        )
    weekday = n >= WEEKDAY_DAYS
    x = np.array(_design(observed, first, weekday))
    xf = np.array(_design(future, first, weekday))
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ beta
    df = n - x.shape[1]
    sigma2 = float(residual @ residual) / df if df > 0 else 0.0
    c = xf.sum(axis=0)
    xtx_inv = np.linalg.pinv(x.T @ x)
    var = sigma2 * (len(future) + float(c @ xtx_inv @ c))
    z = _Z if level == LEVEL else _normal_quantile(0.5 + level / 2)
    half = _t_quantile(z, df) * math.sqrt(max(var, 0.0))
    rest = float(xf.sum(axis=0) @ beta)
    total = spent + rest
    # Spend already incurred does not come back: the bounds never go below it.
    return Forecast(
        spent,
        max(total, spent),
        max(total - half, spent),
        max(total + half, spent),
        n,
        len(future),
        "trend+weekday" if weekday else "trend",
    )


def _normal_quantile(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)
