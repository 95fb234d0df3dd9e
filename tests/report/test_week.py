"""ISO weeks: parsing, dates, and the default week of a warehouse's data."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from mlcost.errors import ConfigError, NotFound
from mlcost.report import Coverage, IsoWeek, default_week, parse_week


@pytest.mark.parametrize("text", ["2026-W21", "2026W21", "2026-w21", " 2026-W21 "])
def test_accepted_spellings(text: str) -> None:
    w = parse_week(text)
    assert (str(w), w.start, w.last, w.end) == (
        "2026-W21",
        date(2026, 5, 18),
        date(2026, 5, 24),
        date(2026, 5, 25),
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026-47",  # no W
        "2026-05-18",  # a date, not a week
        "W47",  # no year
        "2025-W53",  # 2025 has 52 ISO weeks
        "2026-W00",
        "",
    ],
)
def test_bad_week_says_the_expected_format(text: str) -> None:
    with pytest.raises(ConfigError, match=r"not an ISO week\. Write YYYY-Www, e\.g\. 2026-W47"):
        parse_week(text)


def test_week_53_and_shifts_across_years() -> None:
    # 2026 starts on a Thursday, so it has an ISO week 53 (Dec 28 .. Jan 3).
    w53 = parse_week("2026-W53")
    assert (w53.start, w53.last) == (date(2026, 12, 28), date(2027, 1, 3))
    assert str(w53.shift(1)) == "2027-W01"
    assert str(IsoWeek(2027, 1).shift(-2)) == "2026-W52"
    assert IsoWeek.of(date(2027, 1, 3)) == w53


def test_default_week_is_the_last_complete_one() -> None:
    # Data 2026-05-01 00:00 .. 2026-05-31 00:00: W22 (May 25-31) ends on June 1, incomplete.
    cov = Coverage(datetime(2026, 5, 1), datetime(2026, 5, 31))
    assert str(default_week(cov)) == "2026-W21"
    assert not cov.complete(parse_week("2026-W18"))  # starts Apr 27, data from May 1
    # Through Sunday midnight: W22 is complete.
    assert str(default_week(Coverage(datetime(2026, 5, 1), datetime(2026, 6, 1)))) == "2026-W22"
    # Three days of data: no complete week, the week that has them.
    assert str(default_week(Coverage(datetime(2026, 5, 1), datetime(2026, 5, 4)))) == "2026-W18"
    with pytest.raises(NotFound, match="no cost data yet"):
        default_week(Coverage(None, None))
