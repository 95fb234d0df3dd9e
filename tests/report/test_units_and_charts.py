"""Unit costs week by week on a tiny hand-built organization, and the charts' edge cases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

import mlcost.report
from mlcost import Warehouse
from mlcost.config import AttributionConfig
from mlcost.report import BudgetLine, weekly_report
from mlcost.report._svg import burn_down
from tests.attribution.conftest import line, put, workload

MONDAY_W41 = 96  # hours after 2026-10-01 00:00 (a Thursday): Monday 2026-10-05


@pytest.fixture
def org(wh: Warehouse) -> Warehouse:
    # search's endpoint: 1.00 an hour for two weeks (W41, W42), 336,000 requests in all, so
    # 168,000 and 168.00 a week: 1.00 per 1,000 predictions. vision's run "r1" of experiment
    # "e1": 10.00 an hour for 5 hours in W42.
    weeks = range(MONDAY_W41, MONDAY_W41 + 14 * 24)
    put(
        wh,
        "cost_line_items",
        [line("1.00", resource="ep", gpus=1, start=h, tags={"team": "search"}) for h in weeks]
        + [
            line("10.00", resource="gpu-1", gpus=1, start=MONDAY_W41 + 7 * 24 + h) for h in range(5)
        ],
    )
    put(
        wh,
        "workloads",
        [
            workload(
                "opencost:ep",
                "ep",
                MONDAY_W41,
                MONDAY_W41 + 14 * 24,
                1,
                kind="inference",
                requests=336_000.0,
                tags={"team": "search"},
            ),
            workload(
                "tracker:r1",
                "gpu-1",
                MONDAY_W41 + 7 * 24,
                MONDAY_W41 + 7 * 24 + 5,
                1,
                kind="training",
                experiment="e1",
                run_id="r1",
                tags={"team": "vision"},
            ),
        ],
    )
    return wh


def test_unit_costs_per_week(org: Warehouse) -> None:
    r = weekly_report(org, AttributionConfig())
    assert (r.week, r.average_weeks) == ("2026-W42", ("2026-W41",))
    assert r.total.this_week == Decimal("218.00") and r.total.last_week == Decimal("168.00")
    units = {u.name: u for u in r.units}
    per_1k = units["cost per 1k predictions"]
    assert (per_1k.this_week, per_1k.last_week, per_1k.average) == (
        Decimal("1.00"),
        Decimal("1.00"),
        Decimal("1.00"),
    )
    assert per_1k.count == pytest.approx(168_000)
    exp = units["cost per experiment"]
    assert (exp.this_week, exp.last_week, exp.count) == (Decimal("50.00"), None, 1)
    assert any("over 1 complete week(s) (2026-W41)" in n for n in r.notes)


def test_unit_costs_of_a_team_are_its_own(org: Warehouse) -> None:
    r = weekly_report(org, AttributionConfig(), owner="search")
    units = {u.name: u for u in r.units}
    assert units["cost per 1k predictions"].this_week == Decimal("1.00")
    assert units["cost per experiment"].this_week is None  # vision's run is not search's
    assert r.total.this_week == Decimal("168.00")


def test_burn_down_of_an_overrun_budget_draws_the_band_below_zero() -> None:
    start = date(2026, 10, 1)
    b = BudgetLine(
        name="vision",
        currency="USD",
        amount=Decimal(1000),
        period_start=start,
        period_end=date(2026, 11, 1),
        as_of=start + timedelta(days=19),
        spent=Decimal(1200),
        forecast=Decimal(1900),
        forecast_low=Decimal(1700),
        forecast_high=Decimal(2100),
        forecast_note="ols",
        crossed=("actual 100%",),
        daily=tuple((start + timedelta(days=i), Decimal(60)) for i in range(20)),
    )
    svg = burn_down(b, title="vision")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "over budget" in svg and "<polygon" in svg
    assert "1,700.00..2,100.00 USD" in svg  # the band's tooltip names the interval
    assert "-200.00 USD" in svg  # what is left after day 20: 1,000 - 1,200


def test_public_names_are_sorted_and_import() -> None:
    assert mlcost.report.__all__ == sorted(mlcost.report.__all__)
    for name in mlcost.report.__all__:
        assert getattr(mlcost.report, name) is not None


def test_a_report_on_a_missing_allocation_says_so(org: Warehouse) -> None:
    r = weekly_report(org, AttributionConfig(), rebuild=False)  # nothing allocated yet
    assert r.total.this_week == Decimal("218.00")  # the bill, from spend
    assert any("does not add up to the bill in 2026-W41, 2026-W42" in n for n in r.notes)
