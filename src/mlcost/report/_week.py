"""ISO weeks: parse ``2026-W21``, their dates, and which weeks a warehouse covers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from mlcost.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["Coverage", "IsoWeek", "coverage", "default_week", "parse_week"]

_PATTERN = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class IsoWeek:
    """One ISO 8601 week: Monday ``start`` (inclusive) to the next Monday ``end`` (exclusive).

    >>> w = parse_week("2026-W21")
    >>> (str(w), w.start.isoformat(), w.last.isoformat())
    ('2026-W21', '2026-05-18', '2026-05-24')
    """

    year: int
    week: int

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        """The ISO week that contains ``day``."""
        y, w, _ = day.isocalendar()
        return cls(y, w)

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=7)

    @property
    def last(self) -> date:
        """Its Sunday, the last day in it."""
        return self.start + timedelta(days=6)

    @property
    def start_dt(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time())

    @property
    def end_dt(self) -> datetime:
        return datetime.combine(self.end, datetime.min.time())

    def shift(self, weeks: int) -> IsoWeek:
        """The week ``weeks`` later (earlier when negative)."""
        return IsoWeek.of(self.start + timedelta(weeks=weeks))

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def parse_week(text: str) -> IsoWeek:
    """``2026-W47`` (or ``2026W47``, ``2026-w47``) as an :class:`IsoWeek`; a clear error else."""
    m = _PATTERN.match(text.strip())
    if m is not None:
        try:
            start = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError:
            pass
        else:
            return IsoWeek.of(start)
    raise ConfigError(
        f"Week {text!r} is not an ISO week. Write YYYY-Www, e.g. 2026-W47 "
        "(weeks run Monday to Sunday; a year has 52 or 53)."
    )


@dataclass(frozen=True)
class Coverage:
    """The charge periods of usage rows in the warehouse: ``[start, end)``; None when empty."""

    start: datetime | None
    end: datetime | None

    @property
    def weeks(self) -> tuple[IsoWeek, IsoWeek] | None:
        """The first and last ISO week with data."""
        if self.start is None or self.end is None:
            return None
        return IsoWeek.of(self.start.date()), IsoWeek.of((self.end - timedelta(seconds=1)).date())

    def describe(self) -> str:
        w = self.weeks
        if w is None or self.start is None or self.end is None:
            return "The warehouse has no cost data yet: run mlcost ingest first."
        last = (self.end - timedelta(seconds=1)).date()
        return (
            f"The warehouse covers {w[0]} to {w[1]} "
            f"({self.start.date().isoformat()}..{last.isoformat()})."
        )

    def complete(self, week: IsoWeek) -> bool:
        """Every day of ``week`` has data."""
        return (
            self.start is not None
            and self.end is not None
            and self.start <= week.start_dt
            and week.end_dt <= self.end
        )


def coverage(wh: Warehouse) -> Coverage:
    """The span of usage-based charges (monthly fees span the whole month, so they do not
    count: a bill with one day of usage is one day of data)."""
    bill = wh.table("cost_line_items")
    usage = bill.filter(bill.ChargeFrequency.isnull() | (bill.ChargeFrequency == "Usage-Based"))
    for t in (usage, bill):  # a bill of fees only still has its periods
        row = t.aggregate(a=t.ChargePeriodStart.min(), b=t.ChargePeriodEnd.max()).to_pyarrow()
        a, b = row["a"][0].as_py(), row["b"][0].as_py()
        if a is not None and b is not None:
            return Coverage(a, b)
    return Coverage(None, None)


def default_week(cov: Coverage) -> IsoWeek:
    """The last complete ISO week of the data, else (less than a week of data) the last week."""
    w = cov.weeks
    if w is None or cov.end is None:
        raise NotFound(cov.describe())
    last = w[1]
    if cov.complete(last):
        return last
    before = last.shift(-1)
    return before if cov.complete(before) else last
