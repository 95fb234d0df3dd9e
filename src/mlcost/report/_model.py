"""The weekly report's data model: one frozen tree (:class:`WeeklyReport`) and its parts.

Amounts are ``Decimal`` in the report's currency; :meth:`WeeklyReport.as_dict` is the JSON
form. Computed by ``_build.py`` from the warehouse reads of ``_reads.py``; rendered by
``_render.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from mlcost.errors import ConfigError

__all__ = [
    "AVERAGE_WEEKS",
    "CENT",
    "HISTORY_WEEKS",
    "TOP",
    "ZERO",
    "Anomaly",
    "BudgetLine",
    "Change",
    "GpuLine",
    "Insight",
    "Line",
    "UnitLine",
    "WeekSpend",
    "WeeklyReport",
    "parse_owner",
]

AVERAGE_WEEKS = 4  # "vs the 4-week average": the four weeks before the report's week
HISTORY_WEEKS = 8  # weeks in the spend-over-time chart, the report's week included
TOP = 5
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    """One row of a breakdown: this week, last week and the mean of the weeks before.

    ``average`` is None when none of the four weeks before has complete data.
    """

    key: str
    this_week: Decimal
    last_week: Decimal
    average: Decimal | None

    @property
    def delta(self) -> Decimal:
        """This week minus last week."""
        return self.this_week - self.last_week

    @property
    def change(self) -> float | None:
        """The change against last week as a fraction (None: nothing last week)."""
        return float(self.delta / self.last_week) if self.last_week else None

    @property
    def vs_average(self) -> float | None:
        """This week against the average, as a fraction (None: no average)."""
        return float(self.this_week / self.average - 1) if self.average else None


@dataclass(frozen=True)
class Change:
    """A cost driver: one value of one dimension and how much it moved since last week."""

    dimension: str
    line: Line


@dataclass(frozen=True)
class WeekSpend:
    """One week of the spend-over-time chart: the total and its parts (team or workload type)."""

    week: str
    start: date
    total: Decimal
    parts: Mapping[str, Decimal]
    complete: bool


@dataclass(frozen=True)
class GpuLine:
    """An owner's GPU cost this week: used, idle, no telemetry, capacity no workload claimed."""

    owner: str
    used: Decimal
    idle: Decimal
    unmeasured: Decimal
    unallocated: Decimal
    gpu_hours: float

    @property
    def total(self) -> Decimal:
        return self.used + self.idle + self.unmeasured + self.unallocated

    @property
    def idle_share(self) -> float | None:
        """Idle of the measured workload GPU cost (None: no measured GPU cost)."""
        measured = self.used + self.idle
        return float(self.idle / measured) if measured else None


@dataclass(frozen=True)
class BudgetLine:
    """A budget as of the week's Sunday, with its burn: spend per day so far in the period."""

    name: str
    currency: str
    amount: Decimal
    period_start: date
    period_end: date  # exclusive
    as_of: date
    spent: Decimal
    forecast: Decimal | None
    forecast_low: Decimal | None
    forecast_high: Decimal | None
    forecast_note: str
    crossed: tuple[str, ...]
    daily: tuple[tuple[date, Decimal], ...]  # spend per day, period start .. as_of

    @property
    def used(self) -> float:
        return float(self.spent / self.amount) if self.amount else 0.0

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.spent


@dataclass(frozen=True)
class Anomaly:
    """A spend anomaly (insights' ``anomaly`` detector) that started in the report's week."""

    id: str
    first_day: date
    last_day: date
    owner: str | None
    resource: str | None
    excess: Decimal
    currency: str
    action: str


@dataclass(frozen=True)
class Insight:
    """An open finding: what to change and what it saves a month (low / expected / high)."""

    id: str
    kind: str
    owner: str | None
    resource: str | None
    saving: Decimal
    saving_low: Decimal
    saving_high: Decimal
    currency: str
    confidence: float
    action: str
    # recurring: ``saving`` is a month's saving; one_off: money already spent once (runaway,
    # early stop), never added into the monthly total.
    saving_type: str = "recurring"


@dataclass(frozen=True)
class CacheLine:
    """What one cache saved in the week (``attribution.cache_savings``): ``saved`` None when
    the cache was given no cost (unknown, not zero)."""

    cache: str
    model: str | None
    hits: int
    misses: int
    hit_rate: float | None
    saved: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class UnitLine:
    """A unit cost per week: cost per experiment, per run, per 1,000 predictions.

    ``this_week`` / ``last_week`` / ``average`` are None when nothing was counted that week.
    """

    name: str
    unit: str
    this_week: Decimal | None
    last_week: Decimal | None
    average: Decimal | None
    count: float  # experiments, runs or predictions this week
    history: tuple[tuple[str, Decimal | None], ...]


@dataclass(frozen=True)
class WeeklyReport:
    """Everything the weekly report shows, in ``currency``; amounts are ``Decimal``.

    ``owner`` set: every part is scoped to that owner's allocated costs, budgets and findings.
    """

    week: str
    start: date
    end: date  # exclusive
    owner_key: str
    owner: str | None
    currency: str
    generated_at: datetime
    data_start: date
    data_end: date  # last day with data
    complete: bool
    average_weeks: tuple[str, ...]  # the complete weeks the averages are over
    total: Line
    history: tuple[WeekSpend, ...]
    breakdowns: Mapping[str, tuple[Line, ...]]  # owner key (team), project, model, workload type
    changes: tuple[Change, ...]
    top_resources: tuple[Line, ...]
    gpu: tuple[GpuLine, ...]
    budgets: tuple[BudgetLine, ...]
    anomalies: tuple[Anomaly, ...]
    insights: tuple[Insight, ...]
    insights_total: Decimal  # the savings plan's recurring monthly saving (no overlap)
    insights_count: int
    insights_source: str  # "stored" or "computed"
    units: tuple[UnitLine, ...]
    other_currencies: Mapping[str, Decimal] = field(default_factory=dict)
    insights_one_off: Decimal = Decimal(0)  # the plan's one-off waste (already spent), apart
    notes: tuple[str, ...] = ()
    caches: tuple[CacheLine, ...] = ()  # the week's cache savings (reports for everyone)

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def title(self) -> str:
        who = f"{self.owner_key} {self.owner}" if self.owner else "all owners"
        return f"Weekly cost report {self.week} ({who})"

    @property
    def gpu_total(self) -> GpuLine:
        def add(name: str) -> Decimal:
            return sum((getattr(g, name) for g in self.gpu), ZERO)

        return GpuLine(
            "all",
            add("used"),
            add("idle"),
            add("unmeasured"),
            add("unallocated"),
            sum(g.gpu_hours for g in self.gpu),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts rounded to the cent as numbers, dates as ISO strings."""
        out = _plain(self)
        assert isinstance(out, dict)
        return out


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        for name in ("delta", "change", "vs_average", "idle_share", "used", "total"):
            prop = getattr(type(value), name, None)
            if isinstance(prop, property):
                out[name] = _plain(getattr(value, name))
        return out
    if isinstance(value, Decimal):
        return float(value.quantize(CENT))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def parse_owner(text: str) -> tuple[str, str]:
    """``team:search`` → ``("team", "search")``; a clear error for anything else."""
    key, sep, value = text.partition(":")
    if not sep or not key.strip() or not value.strip():
        raise ConfigError(
            f"Owner {text!r} is not KEY:VALUE. Write the owner tag and its value, "
            "e.g. --owner team:search."
        )
    return key.strip(), value.strip()
