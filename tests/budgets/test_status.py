"""Budget status: period, spent, forecast, thresholds crossed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mlcost import Warehouse
from mlcost.budgets import budget_status, period_of
from mlcost.config import parse_budgets
from mlcost.errors import ConfigError
from tests.budgets.conftest import daily_spend

BUDGETS = parse_budgets(
    {
        "vision": {"amount": 1000, "currency": "USD", "scope": {"team": "vision"}},
        "search": {"amount": 10000, "currency": "USD", "scope": {"team": "search"}},
        "all-q4": {"amount": 50000, "currency": "USD", "period": "quarterly"},
    }
)


def test_status_spent_forecast_and_crossed_thresholds(wh: Warehouse) -> None:
    # vision spends 40 a day: 20 days = 800 (80%: the 75% threshold), forecast 31*40 = 1240.
    daily_spend(wh, 20, {"vision": 40.0, "search": 100.0})
    vision, search, everyone = (budget_status(wh, b) for b in BUDGETS)
    assert (vision.period_start, vision.period_end) == (date(2026, 10, 1), date(2026, 11, 1))
    assert vision.spent == Decimal("800.00") and vision.currency == "USD"
    assert vision.forecast.total == pytest.approx(1240.0)
    assert [(c.kind, c.threshold) for c in vision.crossed] == [
        ("actual", 0.75),
        ("forecast", 1.0),
    ]
    assert search.spent == Decimal("2000.00") and search.crossed == ()
    assert everyone.period_start == date(2026, 10, 1) and everyone.period_end == date(2027, 1, 1)
    assert everyone.spent == Decimal("2800.00")


def test_status_as_of_an_earlier_day_ignores_later_rows(wh: Warehouse) -> None:
    daily_spend(wh, 20, {"vision": 40.0})
    s = budget_status(wh, BUDGETS[0], as_of=date(2026, 10, 5))
    assert s.spent == Decimal("200.00")
    assert s.forecast.total is None and "too little history" in s.forecast.reason


def test_periods() -> None:
    (q,) = parse_budgets({"q": {"amount": 1, "currency": "EUR", "period": "quarterly"}})
    assert period_of(q, date(2026, 11, 30)) == (date(2026, 10, 1), date(2027, 1, 1))
    (c,) = parse_budgets(
        {
            "c": {
                "amount": 1,
                "currency": "EUR",
                "period": "custom",
                "start": "2026-01-10",
                "end": "2026-02-10",
            }
        }
    )
    assert period_of(c, date(2026, 1, 20)) == (date(2026, 1, 10), date(2026, 2, 10))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"b": {"amount": 1, "currency": "USD", "colour": "red"}},
            r"unknown key\(s\) colour in \[budgets.b\].*docs/budgets.md",
        ),
        ({"b": {"amount": 1}}, "currency must be an ISO code"),
        ({"b": {"amount": 1, "currency": "USD", "period": "weekly"}}, "choose one of"),
        ({"b": {"amount": 1, "currency": "USD", "period": "custom"}}, "give start"),
    ],
)
def test_bad_budget_tables_are_config_errors(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_budgets(table, where="mlcost.toml")
