"""Budgets: a scope, a period, an amount in a currency, and thresholds on actual and forecast
spend. See docs/budgets.md.

- :mod:`~mlcost.budgets.forecast`: the period-end forecast with an 80% prediction interval;
- :func:`budget_status`: spend so far, forecast, thresholds crossed;
- :func:`evaluate`: statuses plus their alerts, recorded once per threshold per period.
"""

from mlcost.budgets._evaluate import evaluate
from mlcost.budgets._status import (
    BudgetStatus,
    Crossing,
    alerts_for,
    budget_status,
    period_of,
    statuses,
)
from mlcost.budgets.forecast import Forecast, forecast_total

__all__ = [
    "BudgetStatus",
    "Crossing",
    "Forecast",
    "alerts_for",
    "budget_status",
    "evaluate",
    "forecast_total",
    "period_of",
    "statuses",
]
