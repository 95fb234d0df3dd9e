"""What the dashboard pages compute (mlcost/server/dashboard/_figures.py), on a tiny bill:
month to date against the same days of last month, and what a team token may see."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from mlcost import Warehouse
from mlcost.attribution import UNALLOCATED, showback
from mlcost.config import AttributionConfig, Settings
from mlcost.server.dashboard._figures import (
    OTHER_TEAMS,
    Window,
    daily_by,
    gpu_page,
    latest_day,
    overview,
)
from tests.attribution.conftest import line, put

SEPT = -24 * 30  # hours from 2026-10-01 back to 2026-09-01


@pytest.fixture
def settings(wh: Warehouse, wh_url: str) -> Settings:
    """Team a: 10 USD a day in September, 20 a day on October 1-5; team b: 5 a day in both;
    1 USD a day untagged in October. Both months allocated (`mlcost showback`)."""
    rows = [line(10, start=SEPT + 24 * d, hours=24, tags={"team": "a"}) for d in range(30)]
    rows += [line(5, start=SEPT + 24 * d, hours=24, tags={"team": "b"}) for d in range(30)]
    rows += [line(20, start=24 * d, hours=24, tags={"team": "a"}) for d in range(5)]
    rows += [line(5, start=24 * d, hours=24, tags={"team": "b"}) for d in range(5)]
    rows += [line(1, start=24 * d, hours=24) for d in range(5)]
    put(wh, "cost_line_items", rows)
    for month in ("2026-09", "2026-10"):
        showback(wh, AttributionConfig(), month)
    return Settings(warehouse=wh_url, sources={})


def test_month_to_date_is_compared_with_the_same_days_of_last_month(
    wh: Warehouse, settings: Settings
) -> None:
    o = overview(wh, settings, None)
    assert latest_day(wh) == date(2026, 10, 5)
    assert o.window.month.label == "2026-10" and o.window.days == 5
    assert (o.total, o.total_last, o.total_last_full) == (130, 75, 450)
    rows = {r.name: r for r in o.rows}
    assert list(rows) == ["a", "b", UNALLOCATED]
    a = rows["a"]
    assert (a.this_month, a.last_month, a.last_full) == (100, 50, 300)
    assert a.change == 1.0  # +100 %: 20 a day against 10 a day, not against all September
    assert rows[UNALLOCATED].change is None  # nothing unallocated in September: no ratio
    assert o.previous and o.currency == "USD"


def test_a_team_token_sees_its_team_and_one_total_of_the_others(
    wh: Warehouse, settings: Settings
) -> None:
    o = overview(wh, settings, frozenset({"a"}))
    assert [(r.name, r.this_month, r.last_month, r.link) for r in o.rows] == [
        ("a", Decimal(100), Decimal(50), True),
        (OTHER_TEAMS, Decimal(30), Decimal(25), False),  # b and the unallocated, no names
    ]
    series = {s["name"]: sum(s["data"]) for s in o.daily["series"]}
    assert series == {"a": 400.0, OTHER_TEAMS: 180.0}  # September and October, per owner
    # The month's total stays the organization's: "aggregate totals without detail".
    assert o.total == 130
    # A token for a team with no spend yet gets its row (zero) and the others' total.
    empty = overview(wh, settings, frozenset({"c"}))
    assert [(r.name, r.this_month) for r in empty.rows] == [("c", 0), (OTHER_TEAMS, 130)]


def test_daily_series_start_at_the_first_charge_and_add_up_to_the_statements(
    wh: Warehouse, settings: Settings
) -> None:
    d = daily_by(wh, "team", datetime(2026, 8, 1), datetime(2026, 10, 6))
    assert d["labels"][0] == "2026-09-01" and d["labels"][-1] == "2026-10-05"
    assert [s["name"] for s in d["series"]] == ["a", "b", UNALLOCATED]
    assert [sum(s["data"]) for s in d["series"]] == [400.0, 175.0, 5.0]
    assert d["currency"] == "USD" and d["other_currencies"] == []


def test_gpu_page_lists_only_teams_with_gpu_cost(wh: Warehouse, settings: Settings) -> None:
    assert gpu_page(wh, settings, None)["statements"] == []  # no GPU lines on this bill


@pytest.mark.parametrize(
    ("day", "before"),
    [
        (date(2026, 10, 5), (datetime(2026, 9, 1), datetime(2026, 9, 6))),
        # March 31 against February: the same days stop at February's end.
        (date(2026, 3, 31), (datetime(2026, 2, 1), datetime(2026, 3, 1))),
        (date(2026, 1, 1), (datetime(2025, 12, 1), datetime(2025, 12, 2))),
    ],
)
def test_the_same_days_of_last_month(day: date, before: tuple[datetime, datetime]) -> None:
    assert Window.of(day).before == before
