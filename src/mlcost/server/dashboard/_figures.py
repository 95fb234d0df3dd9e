"""What each dashboard page shows, computed from the same library functions as the CLI.

Owners are showback owners: ``allocated_costs`` as :func:`mlcost.attribution.showback` built
it (the tag key ``settings.attribution.owner``, ``team`` by default), so a team here is the
team of ``mlcost showback`` and of a ``read:team:<name>`` token. Amounts are EffectiveCost in
the billing currency, without commitment purchases counted twice
(:func:`mlcost.spending.countable_rows`).

``teams`` is what the viewer may see: ``None`` for every team, else a set of team names. A
scoped viewer sees its teams in detail and every other owner summed into one
``OTHER_TEAMS`` figure, without names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mlcost.attribution.showback import UNALLOCATED, Statement, statements

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.budgets import BudgetStatus
    from mlcost.config import BudgetConfig, Settings
    from mlcost.insights import Finding
    from mlcost.warehouse import Warehouse

__all__ = [
    "OTHER_TEAMS",
    "Month",
    "Overview",
    "TeamPage",
    "Window",
    "daily_by",
    "gpu_page",
    "known_teams",
    "latest_day",
    "model_page",
    "models",
    "overview",
    "team_page",
    "visible_findings",
]

OTHER_TEAMS = "other teams"
METRIC = "EffectiveCost"
GPU_BUCKETS = ("gpu_used", "gpu_idle", "gpu_unmeasured", "gpu_unallocated")


@dataclass(frozen=True)
class Month:
    """A calendar month ``[start, end)``; ``label`` is ``YYYY-MM``."""

    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m}"

    def previous(self) -> Month:
        end = self.start
        last = end - timedelta(days=1)
        return Month(datetime(last.year, last.month, 1), end)

    @classmethod
    def of(cls, day: date) -> Month:
        start = datetime(day.year, day.month, 1)
        m = start.month
        return cls(start, datetime(start.year + m // 12, m % 12 + 1, 1))


def latest_day(wh: Warehouse) -> date:
    """The day of the latest allocated charge (bills arrive late: "this month" is the last
    month with data, as in budget status), else of the latest charge, else today."""
    for table in ("allocated_costs", "cost_line_items"):
        # Through Arrow: an empty table's max is None there (pandas would give NaT).
        latest = wh.table(table).ChargePeriodStart.max().to_pyarrow().as_py()
        if latest is not None:
            return latest.date()  # type: ignore[no-any-return]
    return datetime.now().date()


def latest_month(wh: Warehouse) -> Month:
    """The month of :func:`latest_day`."""
    return Month.of(latest_day(wh))


def _allocated(wh: Warehouse, owner_key: str, start: datetime, end: datetime) -> ir.Table:
    from mlcost.spending import countable_rows

    a = wh.table("allocated_costs")
    a = a.filter(
        (a.x_OwnerKey == owner_key) & (a.ChargePeriodStart >= start) & (a.ChargePeriodStart < end)
    )
    return countable_rows(a, METRIC).mutate(owner=a.x_Owner.fill_null(UNALLOCATED))


def _model(a: ir.Table) -> ir.Value:
    import ibis

    # The same model key as the showback statements' by_model.
    return ibis.coalesce(a.AllocatedTags.get("model"), a.Tags.get("model"))


def daily_by(
    wh: Warehouse,
    owner_key: str,
    start: datetime,
    end: datetime,
    *,
    series: str = "owner",
    model: str | None = None,
    teams: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Daily spend as chart data: ``{"labels": [days], "series": [{"name", "data": [amounts]}],
    "currency": str, "other_currencies": [...]}``, from the first day with a charge.

    ``series`` is ``"owner"`` (one series per team; for a scoped viewer, its teams and
    ``OTHER_TEAMS``), ``"bucket"`` (GPU used / idle / unmeasured / unallocated of the visible
    teams) or ``"workload_type"`` (of the visible teams). ``model`` keeps one model's rows.
    """
    a = _allocated(wh, owner_key, start, end)
    if model is not None:
        a = a.filter(_model(a) == model)
    if series == "owner":
        key = a.owner
        if teams is not None:
            key = key.isin(sorted(teams)).ifelse(key, OTHER_TEAMS)
    else:
        if teams is not None:
            a = a.filter(a.owner.isin(sorted(teams)))
        if series == "bucket":
            a = a.filter(a.x_Bucket.isin(list(GPU_BUCKETS)))
            key = a.x_Bucket
        else:
            key = a.x_WorkloadType.fill_null("other")
    g = a.group_by(day=a.ChargePeriodStart.date(), name=key, currency=a.BillingCurrency).aggregate(
        v=a[METRIC].sum()
    )
    rows = g.to_pyarrow().to_pylist()
    currency, others = _main_currency(rows)
    days = [start.date() + timedelta(days=i) for i in range((end - start).days)]
    index = {d: i for i, d in enumerate(days)}
    out: dict[str, list[float]] = {}
    for r in rows:
        if r["currency"] != currency or r["day"] not in index:
            continue
        values = out.setdefault(str(r["name"]), [0.0] * len(days))
        values[index[r["day"]]] += float(r["v"] or 0)
    if series == "bucket":
        order = [b for b in GPU_BUCKETS if b in out]
    else:
        order = sorted(out, key=lambda n: (n in (OTHER_TEAMS, UNALLOCATED), -sum(out[n]), n))
    # Days before the first charge are not "zero spend" but "no data yet": left off.
    first = min((i for v in out.values() for i, x in enumerate(v) if x), default=0)
    return {
        "labels": [d.isoformat() for d in days[first:]],
        "series": [{"name": n, "data": [round(v, 2) for v in out[n][first:]]} for n in order],
        "currency": currency,
        "other_currencies": others,
    }


def _main_currency(rows: Sequence[dict[str, Any]]) -> tuple[str, list[str]]:
    """The currency with the most spend; the others are named on the page, not mixed in."""
    totals: dict[str, float] = {}
    for r in rows:
        c = r["currency"] or "USD"
        totals[c] = totals.get(c, 0.0) + abs(float(r["v"] or 0))
    if not totals:
        return "USD", []
    main = max(totals, key=lambda c: totals[c])
    return main, sorted(c for c in totals if c != main)


@dataclass(frozen=True)
class Row:
    """One team's month to date next to the same days of the month before."""

    name: str
    this_month: Decimal
    last_month: Decimal  # the same days of the previous month
    last_full: Decimal  # the whole previous month
    gpu_used: Decimal = Decimal(0)
    gpu_idle: Decimal = Decimal(0)
    link: bool = True

    @property
    def change(self) -> float | None:
        if not self.last_month:
            return None
        return float((self.this_month - self.last_month) / abs(self.last_month))


@dataclass(frozen=True)
class Window:
    """Month to date (through the latest day with data) and the same days a month before."""

    month: Month
    through: date
    now: tuple[datetime, datetime]
    before: tuple[datetime, datetime]

    @classmethod
    def of(cls, day: date) -> Window:
        month = Month.of(day)
        prev = month.previous()
        days = (day - month.start.date()).days + 1
        same = min(prev.start + timedelta(days=days), prev.end)
        return cls(
            month, day, (month.start, month.start + timedelta(days=days)), (prev.start, same)
        )

    @property
    def days(self) -> int:
        return (self.now[1] - self.now[0]).days


@dataclass(frozen=True)
class Overview:
    window: Window
    currency: str
    rows: tuple[Row, ...]
    total: Decimal
    total_last: Decimal  # same days of the previous month
    total_last_full: Decimal
    gpu_used: Decimal
    gpu_idle: Decimal
    daily: dict[str, Any]
    allocated: bool
    previous: bool  # the previous month has allocated spend: else no comparison is shown
    scoped: bool = False
    findings: tuple[Finding, ...] = ()
    budgets: tuple[BudgetStatus, ...] = ()
    caches: tuple[dict[str, Any], ...] = ()  # the month's cache savings (read:all only)
    units: tuple[dict[str, Any], ...] = ()  # cost per 1M tokens per model (read:all only)

    @property
    def change(self) -> float | None:
        return (
            float((self.total - self.total_last) / abs(self.total_last))
            if self.total_last
            else None
        )


def _visible(s: Statement, teams: frozenset[str] | None) -> bool:
    return teams is None or s.owner in teams


def _totals(found: Iterable[Statement]) -> dict[str, Decimal]:
    return {s.owner: s.total for s in found}


def _fold(
    now: Sequence[Statement],
    before: dict[str, Decimal],
    full: dict[str, Decimal],
    teams: frozenset[str] | None,
) -> list[Row]:
    """Statements as rows; for a scoped viewer, every other owner folded into one row."""
    shown = {s.owner for s in now if _visible(s, teams)} | {
        o for o in full if teams is None or o in teams
    }
    if teams is not None:
        shown |= teams
    stats = {s.owner: s for s in now}
    zero = Decimal(0)
    rows = [
        Row(
            o,
            stats[o].total if o in stats else zero,
            before.get(o, zero),
            full.get(o, zero),
            stats[o].gpu_used if o in stats else zero,
            stats[o].gpu_idle if o in stats else zero,
            link=o != UNALLOCATED,
        )
        for o in shown
    ]
    rows.sort(key=lambda r: (r.name == UNALLOCATED, -r.this_month, -r.last_full, r.name))
    if teams is not None:

        def rest(values: dict[str, Decimal]) -> Decimal:
            return sum((v for o, v in values.items() if o not in shown), zero)

        other = rest({s.owner: s.total for s in now})
        rows.append(Row(OTHER_TEAMS, other, rest(before), rest(full), link=False))
    return rows


def overview(
    wh: Warehouse,
    settings: Settings,
    teams: frozenset[str] | None,
    budgets: Sequence[BudgetConfig] = (),
    *,
    months: int = 3,
) -> Overview:
    """Month to date vs the same days of last month per team, the daily spend of the last
    ``months`` months stacked by team, used / idle GPU, the top findings and the status of
    ``budgets`` (the ones the viewer may see)."""
    from mlcost.budgets import statuses

    key = settings.attribution.owner
    w = Window.of(latest_day(wh))
    now_s = statements(wh, *w.now, owner_key=key)
    before = _totals(statements(wh, *w.before, owner_key=key))
    prev = w.month.previous()
    full = _totals(statements(wh, prev.start, prev.end, owner_key=key))
    first = w.month
    for _ in range(months - 1):
        first = first.previous()
    seen = [s for s in now_s if _visible(s, teams)]
    tiles = serving_tiles(wh, *w.now) if teams is None else ((), ())
    return Overview(
        window=w,
        currency=now_s[0].currency if now_s else "USD",
        rows=tuple(_fold(now_s, before, full, teams)),
        total=sum((s.total for s in now_s), Decimal(0)),
        total_last=sum(before.values(), Decimal(0)),
        total_last_full=sum(full.values(), Decimal(0)),
        gpu_used=sum((s.gpu_used for s in seen), Decimal(0)),
        gpu_idle=sum((s.gpu_idle for s in seen), Decimal(0)),
        daily=daily_by(wh, key, first.start, w.now[1], teams=teams),
        allocated=bool(now_s or full),
        previous=bool(full),
        scoped=teams is not None,
        findings=tuple(visible_findings(wh, teams)[:5]),
        budgets=tuple(statuses(wh, budgets)),
        caches=tiles[0],
        units=tiles[1],
    )


def serving_tiles(
    wh: Warehouse, start: datetime, end: datetime
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """The overview's serving tiles for [start, end): what each cache saved (by cache and
    model, ``attribution.cache_savings``) and the self-hosted cost per 1M input / output
    tokens per model (``attribution.serving.token_costs``); neither is a team's."""
    from mlcost.attribution.cache_savings import cache_savings
    from mlcost.attribution.serving import has_served_tokens, token_costs

    caches = tuple(cache_savings(wh, start, end).limit(5).to_pyarrow().to_pylist())
    if not has_served_tokens(wh):
        return caches, ()
    tokens = token_costs(wh, start, end, by=("model",))
    tokens = tokens.filter(tokens.cost.notnull())
    return caches, tuple(tokens.to_pyarrow().to_pylist()[:5])


@dataclass(frozen=True)
class TeamPage:
    team: str
    window: Window
    statement: Statement | None
    last_total: Decimal  # same days of the previous month
    daily: dict[str, Any]
    findings: tuple[Finding, ...] = ()
    budgets: tuple[BudgetStatus, ...] = ()
    models: tuple[tuple[str, Decimal], ...] = field(default_factory=tuple)


def team_page(
    wh: Warehouse, settings: Settings, team: str, budgets: Sequence[BudgetConfig] = ()
) -> TeamPage:
    """One team's month to date: its statement, daily spend by workload type, models,
    findings and the status of ``budgets``. The caller checks that the viewer may see it."""
    from mlcost.budgets import statuses

    key = settings.attribution.owner
    w = Window.of(latest_day(wh))
    mine = [s for s in statements(wh, *w.now, owner_key=key) if s.owner == team]
    st = mine[0] if mine else None
    return TeamPage(
        team=team,
        window=w,
        statement=st,
        last_total=_totals(statements(wh, *w.before, owner_key=key)).get(team, Decimal(0)),
        daily=daily_by(
            wh, key, w.month.start, w.now[1], series="workload_type", teams=frozenset({team})
        ),
        findings=tuple(visible_findings(wh, frozenset({team}))),
        budgets=tuple(statuses(wh, budgets)),
        models=tuple(st.by_model.items()) if st else (),
    )


def known_teams(wh: Warehouse, settings: Settings) -> list[str]:
    """Every owner that ``allocated_costs`` has for the owner key, sorted."""
    a = wh.table("allocated_costs")
    a = a.filter((a.x_OwnerKey == settings.attribution.owner) & a.x_Owner.notnull())
    names = a.select(owner=a.x_Owner).distinct().to_pyarrow().column("owner").to_pylist()
    return sorted(str(v) for v in names)


def models(
    wh: Warehouse, settings: Settings, teams: frozenset[str] | None
) -> list[tuple[str, Decimal]]:
    """Models with spend this month to date among the visible teams, largest first."""
    w = Window.of(latest_day(wh))
    out: dict[str, Decimal] = {}
    for s in statements(wh, *w.now, owner_key=settings.attribution.owner):
        if _visible(s, teams) and s.owner != UNALLOCATED:
            for m, v in s.by_model.items():
                out[m] = out.get(m, Decimal(0)) + v
    return sorted(out.items(), key=lambda kv: -kv[1])


def model_page(
    wh: Warehouse, settings: Settings, model: str, teams: frozenset[str] | None
) -> dict[str, Any]:
    """One model's daily spend this month by team (a scoped viewer: its teams, and the other
    teams' total without names) and its total."""
    w = Window.of(latest_day(wh))
    daily = daily_by(
        wh, settings.attribution.owner, w.month.start, w.now[1], model=model, teams=teams
    )
    by_team = {d["name"]: round(sum(d["data"]), 2) for d in daily["series"]}
    return {
        "window": w,
        "daily": daily,
        "total": round(sum(by_team.values()), 2),
        "by_team": by_team,
    }


def gpu_page(wh: Warehouse, settings: Settings, teams: frozenset[str] | None) -> dict[str, Any]:
    """GPU cost this month to date per visible team split into used / idle / unmeasured /
    unallocated (from the statements), and the daily split."""
    w = Window.of(latest_day(wh))
    key = settings.attribution.owner
    rows = [
        s
        for s in statements(wh, *w.now, owner_key=key)
        if _visible(s, teams) and any(getattr(s, b) for b in GPU_BUCKETS)
    ]
    return {
        "window": w,
        "statements": rows,
        "bars": {
            "labels": [s.owner for s in rows],
            "series": [
                {"name": b, "data": [round(float(getattr(s, b)), 2) for s in rows]}
                for b in GPU_BUCKETS
            ],
            "currency": rows[0].currency if rows else "USD",
        },
        "daily": daily_by(wh, key, w.month.start, w.now[1], series="bucket", teams=teams),
    }


def visible_findings(wh: Warehouse, teams: frozenset[str] | None) -> list[Finding]:
    """Stored findings (``mlcost insights``) the viewer may see, largest saving first."""
    from mlcost.insights import load_findings

    found = [f for f in load_findings(wh) if teams is None or f.owner in teams]
    return sorted(found, key=lambda f: (-f.monthly_saving.expected, f.id))
