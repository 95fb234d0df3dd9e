"""Building the weekly report: one frozen tree, computed with the library's own functions.

Every amount comes from the functions behind the other commands, so the report agrees with
them to the cent: the week's total is :func:`mlcost.spending.spend` over the week (``mlcost
spend --from MONDAY --to NEXT-MONDAY``); teams, models, workload types and GPU used/idle are
:func:`mlcost.attribution.statements` of the week, after :func:`mlcost.attribution.showback`
has allocated each month the weeks touch (as ``mlcost showback --month`` does); budgets are
:func:`mlcost.budgets.budget_status` as of the week's Sunday; findings are the stored
insights (:func:`mlcost.insights.load_findings`, else :func:`~mlcost.insights.run_insights`);
unit costs are :mod:`mlcost.attribution.units`. The tree is ``_model.py``,
the warehouse reads ``_reads.py``; rendering is elsewhere (``_render.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mlcost.errors import NotFound
from mlcost.report._model import (
    AVERAGE_WEEKS,
    CENT,
    HISTORY_WEEKS,
    TOP,
    ZERO,
    Anomaly,
    CacheLine,
    Change,
    GpuLine,
    Insight,
    Line,
    UnitLine,
    WeeklyReport,
    WeekSpend,
)
from mlcost.report._reads import Reads, budget_line, week_totals
from mlcost.report._week import Coverage, IsoWeek, coverage, default_week, parse_week

if TYPE_CHECKING:
    from mlcost.config import AttributionConfig, BudgetConfig
    from mlcost.insights import Finding
    from mlcost.warehouse import Warehouse

__all__ = ["weekly_report", "weekly_reports"]


@dataclass
class _Weeks:
    """The report's week, the weeks before it and which of them have data."""

    week: IsoWeek
    cov: Coverage
    history: list[IsoWeek]  # oldest first, the report's week last

    @property
    def last(self) -> IsoWeek:
        return self.week.shift(-1)

    @property
    def average(self) -> list[IsoWeek]:
        before = [self.week.shift(-i) for i in range(1, AVERAGE_WEEKS + 1)]
        return sorted(w for w in before if self.cov.complete(w))

    def with_data(self, w: IsoWeek) -> bool:
        c = self.cov
        if c.start is None or c.end is None:
            return False
        return w.start_dt < c.end and c.start < w.end_dt


def _line(key: str, per_week: Mapping[IsoWeek, Mapping[str, Decimal]], weeks: _Weeks) -> Line:
    avg_weeks = weeks.average
    average = (
        sum((per_week.get(w, {}).get(key, ZERO) for w in avg_weeks), ZERO) / len(avg_weeks)
        if avg_weeks
        else None
    )
    return Line(
        key,
        per_week.get(weeks.week, {}).get(key, ZERO),
        per_week.get(weeks.last, {}).get(key, ZERO),
        average,
    )


def _lines(per_week: Mapping[IsoWeek, Mapping[str, Decimal]], weeks: _Weeks) -> tuple[Line, ...]:
    keys = {k for w in (weeks.week, weeks.last, *weeks.average) for k in per_week.get(w, {})}
    lines = [_line(k, per_week, weeks) for k in keys]
    lines.sort(key=lambda x: (-x.this_week, -x.last_week, x.key))
    return tuple(lines)


def _months(weeks: Iterable[IsoWeek]) -> list[str]:
    out: set[str] = set()
    for w in weeks:
        out.add(f"{w.start:%Y-%m}")
        out.add(f"{w.last:%Y-%m}")
    return sorted(out)


def _sum_maps(maps: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for m in maps:
        for k, v in m.items():
            out[k] = out.get(k, ZERO) + v
    return out


def _budget_owner(budget: BudgetConfig, owner_key: str, owner: str, config: Any) -> bool:
    """A budget is an owner's when it is named after it, or its scope is that owner's tag and
    every value in it is a spelling of the owner (``["search", "Search", "ml-search"]``)."""
    from mlcost.attribution.tags import canonical_key, canonical_value

    if budget.name == owner:
        return True
    if owner_key == config.owner and set(budget.scope.get("owner", ())) == {owner}:
        return True
    for dim, values in budget.scope.items():
        if not dim.startswith("tag:"):
            continue
        keys = {canonical_key(k, config) for k in dim.removeprefix("tag:").split("|")}
        if owner_key in keys and {canonical_value(v, owner_key, config) for v in values} == {owner}:
            return True
    return False


def _anomalies(findings: Sequence[Finding], w: IsoWeek) -> tuple[Anomaly, ...]:
    out = []
    for f in findings:
        days = [date.fromisoformat(d["day"]) for d in f.evidence.get("days", ())]
        if f.kind != "anomaly" or not days or not (w.start <= min(days) < w.end):
            continue
        out.append(
            Anomaly(
                id=f.id,
                first_day=min(days),
                last_day=max(days),
                owner=f.owner,
                resource=f.resource_id,
                excess=Decimal(str(f.evidence.get("excess", f.monthly_saving.high))).quantize(CENT),
                currency=f.monthly_saving.currency,
                action=f.action,
            )
        )
    out.sort(key=lambda a: (-a.excess, a.first_day, a.id))
    return tuple(out)


def _insights(findings: Sequence[Finding]) -> list[Insight]:
    return [
        Insight(
            id=f.id,
            kind=f.kind,
            owner=f.owner,
            resource=f.resource_id,
            saving=f.monthly_saving.expected,
            saving_low=f.monthly_saving.low,
            saving_high=f.monthly_saving.high,
            currency=f.monthly_saving.currency,
            confidence=f.confidence,
            action=f.action,
            saving_type=f.saving_type,
        )
        for f in findings
        if f.kind != "anomaly"
    ]


def _units(
    reads: Reads, weeks: _Weeks, owned: Mapping[IsoWeek, set[str]] | None, currency: str
) -> tuple[UnitLine, ...]:
    """Cost per experiment, per run and per 1,000 predictions, week by week."""
    spans = reads.spans()
    per_exp: dict[IsoWeek, tuple[Decimal, float]] = {}
    per_run: dict[IsoWeek, tuple[Decimal, float]] = {}
    per_1k: dict[IsoWeek, tuple[Decimal, float]] = {}
    per_1m: dict[IsoWeek, tuple[Decimal, float]] = {}
    for w in weeks.history:
        mine = None if owned is None else owned.get(w, set())
        if mine is None:  # tokens are the endpoints' (everyone's report only)
            toks = [t for t in reads.tokens(w) if t["currency"] == currency and t["cost"]]
            per_1m[w] = (
                sum((Decimal(str(t["cost"])) for t in toks), ZERO),
                sum(float(t["input_tokens"] + t["output_tokens"]) for t in toks),
            )
        runs = [
            r
            for r in reads.runs(w)
            if r["currency"] == currency and (mine is None or r["workload_id"] in mine)
        ]
        cost = sum((Decimal(r["cost"] or 0) for r in runs), ZERO)
        per_exp[w] = (cost, len({r["experiment"] or r["run_id"] for r in runs}))
        per_run[w] = (cost, len(runs))
        served = ZERO
        predictions = 0.0
        for r in reads.endpoints(w):
            if r["currency"] != currency or (mine is not None and r["workload_id"] not in mine):
                continue
            if not r["requests"]:
                continue
            served += Decimal(r["cost"] or 0)
            predictions += r["requests"] * _overlap(spans.get(r["workload_id"]), w)
        per_1k[w] = (served, predictions)

    def unit(
        name: str, unit: str, data: Mapping[IsoWeek, tuple[Decimal, float]], per: float
    ) -> UnitLine:
        def value(w: IsoWeek) -> Decimal | None:
            cost, n = data.get(w, (ZERO, 0.0))
            return (cost * Decimal(per) / Decimal(str(n))).quantize(CENT) if n else None

        avg = [v for v in (value(w) for w in weeks.average) if v is not None]
        return UnitLine(
            name=name,
            unit=unit,
            this_week=value(weeks.week),
            last_week=value(weeks.last),
            average=(sum(avg, ZERO) / len(avg)).quantize(CENT) if avg else None,
            count=data.get(weeks.week, (ZERO, 0.0))[1],
            history=tuple((str(w), value(w)) for w in weeks.history),
        )

    lines: tuple[UnitLine, ...] = (
        unit("cost per experiment", "experiment", per_exp, 1),
        unit("cost per training run", "run", per_run, 1),
        unit("cost per 1k predictions", "1k predictions", per_1k, 1000),
    )
    if any(n for _, n in per_1m.values()):
        lines += (unit("cost per 1M tokens (self-hosted)", "tokens", per_1m, 1_000_000),)
    return lines


def _caches(reads: Reads, week: IsoWeek) -> tuple[CacheLine, ...]:
    """The week's cache savings, most money saved first (``attribution.cache_savings``)."""
    return tuple(
        CacheLine(
            cache=c["cache"],
            model=c["model"],
            hits=int(c["hits"] or 0),
            misses=int(c["misses"] or 0),
            hit_rate=c["hit_rate"],
            saved=None if c["saved"] is None else Decimal(c["saved"]).quantize(CENT),
            currency=c["currency"],
        )
        for c in reads.caches(week)
    )


def _overlap(span: tuple[datetime | None, datetime | None] | None, w: IsoWeek) -> float:
    """The share of a workload's life inside the week: its requests are a lifetime total, so
    a week gets them in proportion to time (an even request rate is assumed)."""
    if span is None or span[0] is None:
        return 1.0
    start, end = span[0], span[1] or w.end_dt
    life = (end - start).total_seconds()
    if life <= 0:
        return 1.0
    inside = (min(end, w.end_dt) - max(start, w.start_dt)).total_seconds()
    return max(inside, 0.0) / life


def weekly_report(
    wh: Warehouse,
    config: AttributionConfig,
    *,
    week: str | IsoWeek | None = None,
    owner: str | None = None,
    owner_key: str | None = None,
    budgets: Sequence[BudgetConfig] = (),
    rebuild: bool = True,
    now: datetime | None = None,
) -> WeeklyReport:
    """The weekly report of ``week`` (``2026-W21``; default: the last complete ISO week of
    the data), for every owner or for ``owner`` alone (its ``owner_key`` tag, default the
    ``[attribution] owner``; any spelling the tag rules know, ``Search`` → ``search``).

    ``rebuild`` allocates every month the report's weeks touch first (as ``mlcost showback``
    does); False reads ``allocated_costs`` as it is.

        >>> from mlcost import open_warehouse
        >>> from mlcost.config import AttributionConfig
        >>> with open_warehouse("duckdb://:memory:") as wh:
        ...     weekly_report(wh, AttributionConfig())
        Traceback (most recent call last):
        ...
        mlcost.errors.NotFound: The warehouse has no cost data yet: run mlcost ingest first.
    """
    (found,) = weekly_reports(
        wh,
        config,
        [owner],
        week=week,
        owner_key=owner_key,
        budgets=budgets,
        rebuild=rebuild,
        now=now,
    )
    return found


def weekly_reports(
    wh: Warehouse,
    config: AttributionConfig,
    owners: Sequence[str | None] | None,
    *,
    week: str | IsoWeek | None = None,
    owner_key: str | None = None,
    budgets: Sequence[BudgetConfig] = (),
    rebuild: bool = True,
    now: datetime | None = None,
) -> list[WeeklyReport]:
    """:func:`weekly_report` for each of ``owners`` (an item None: everyone), reading the
    warehouse once for all of them. ``owners=None``: one report per owner with costs in the
    week (not the unallocated costs, which have no owner to send them to)."""
    from mlcost.attribution import UNALLOCATED, showback
    from mlcost.attribution.tags import canonical_value

    cov = coverage(wh)
    if cov.start is None or cov.end is None:
        raise NotFound(cov.describe())
    target = default_week(cov) if week is None else week
    iso = parse_week(target) if isinstance(target, str) else target
    weeks = _Weeks(iso, cov, [iso.shift(-i) for i in range(HISTORY_WEEKS - 1, -1, -1)])
    if not weeks.with_data(iso):
        raise NotFound(
            f"No cost data in {iso} ({iso.start}..{iso.last}). {cov.describe()} "
            f"Pass --week with one of those weeks, e.g. --week {default_week(cov)}."
        )
    key = owner_key or config.owner
    data_weeks = [w for w in weeks.history if weeks.with_data(w)]
    if rebuild:
        for month in _months(data_weeks):
            showback(wh, config, month, by=key)
    totals = week_totals(wh, iso)
    currency = max(totals, key=lambda c: (totals[c], c)) if totals else "USD"
    reads = Reads(wh, key, currency, data_weeks)
    reads._cache[("totals", iso)] = totals
    stamp = (now or datetime.now(UTC)).replace(microsecond=0)
    if owners is None:
        owners = [s.owner for s in reads.statements(iso, None) if s.owner != UNALLOCATED]
    return [
        _build(
            reads,
            config,
            weeks,
            None if who is None else canonical_value(who, key, config),
            budgets,
            stamp,
        )
        for who in owners
    ]


def _build(
    reads: Reads,
    config: AttributionConfig,
    weeks: _Weeks,
    owner: str | None,
    budgets: Sequence[BudgetConfig],
    now: datetime,
) -> WeeklyReport:
    wh, key, currency, iso, cov = reads.wh, reads.owner_key, reads.currency, weeks.week, weeks.cov
    assert cov.start is not None and cov.end is not None
    data_weeks = list(reads.weeks)
    totals = reads.week_totals(iso)
    others = {c: v for c, v in totals.items() if c != currency}

    by_week = {w: reads.statements(w, owner) for w in data_weeks}
    team = {w: {s.owner: s.total for s in ss} for w, ss in by_week.items()}
    model = {w: _sum_maps(s.by_model for s in ss) for w, ss in by_week.items()}
    wtype = {w: _sum_maps(s.by_workload_type for s in ss) for w, ss in by_week.items()}
    if owner is None:
        total_per_week = {w: reads.week_totals(w).get(currency, ZERO) for w in data_weeks}
    else:
        total_per_week = {w: sum(team[w].values(), ZERO) for w in data_weeks}
    if owner is not None and not team.get(iso):
        everyone = [s.owner for s in reads.statements(iso, None)]
        raise NotFound(
            f"No costs of {key} {owner!r} in {iso}. Owners with costs that week: "
            f"{', '.join(everyone) or 'none'}; pass one of them to --owner {key}:NAME."
        )

    def tag(name: str) -> Any:
        import ibis

        return lambda a: ibis.coalesce(a.AllocatedTags.get(name), a.Tags.get(name))

    project = reads.allocated_by("project", tag("project"), owner)
    resource = reads.allocated_by(
        "resource", lambda a: a.AllocatedResourceId.fill_null(a.ResourceId), owner
    )
    service = reads.allocated_by("service", lambda a: a.ServiceName, owner)

    breakdowns = {key: _lines(team, weeks)}
    if key != "project":
        breakdowns["project"] = _lines(project, weeks)
    breakdowns |= {"model": _lines(model, weeks), "workload type": _lines(wtype, weeks)}
    changes = [
        Change(dim, line)
        for dim, lines in (*breakdowns.items(), ("service", _lines(service, weeks)))
        for line in lines
        if line.delta and not (owner is not None and dim == key)
    ]
    changes.sort(key=lambda c: (-abs(c.line.delta), c.dimension, c.line.key))
    parts = wtype if owner is not None else team
    history = tuple(
        WeekSpend(
            str(w),
            w.start,
            total_per_week.get(w, ZERO),
            dict(sorted(parts.get(w, {}).items(), key=lambda kv: -kv[1])),
            cov.complete(w),
        )
        for w in weeks.history
        if w in total_per_week
    )
    total = _line("total", {w: {"total": v} for w, v in total_per_week.items()}, weeks)
    gpu = tuple(
        GpuLine(s.owner, s.gpu_used, s.gpu_idle, s.gpu_unmeasured, s.gpu_unallocated, s.gpu_hours)
        for s in by_week.get(iso, [])
        if s.gpu_used or s.gpu_idle or s.gpu_unmeasured or s.gpu_unallocated
    )

    as_of = min(iso.last, (cov.end - timedelta(seconds=1)).date())
    chosen = [b for b in budgets if owner is None or _budget_owner(b, key, owner, config)]
    budget_lines = tuple(budget_line(wh, b, as_of) for b in chosen)

    findings, source = reads.findings(config)
    # The totals are the savings plan's (mlcost insights --plan): each resource-hour counted
    # once across the whole organization, one-off waste apart; an owner's report shows its part.
    plan = reads.plan(config)
    if owner is not None:
        findings = [f for f in findings if f.owner == owner]
        plan = plan.for_owners([owner])
    insights = _insights(findings)
    same = plan.currency == currency
    open_total = plan.recurring_monthly_saving if same else ZERO
    one_off = plan.one_off_waste if same else ZERO

    owned = None
    if owner is not None:
        wid = reads.allocated_by("workload", lambda a: a.x_WorkloadId, owner)
        owned = {w: set(v) for w, v in wid.items()}
    notes = []
    if not cov.complete(iso):
        notes.append(
            f"{iso} is not complete: the data runs {cov.start.date()}.."
            f"{(cov.end - timedelta(seconds=1)).date()}."
        )
    if not weeks.average:
        notes.append("No complete week before this one: no 4-week average yet.")
    elif len(weeks.average) < AVERAGE_WEEKS:
        notes.append(
            f"The average is over {len(weeks.average)} complete week(s) "
            f"({', '.join(map(str, weeks.average))}), not {AVERAGE_WEEKS}."
        )
    if owner is None:
        stale = [
            str(w)
            for w in data_weeks
            if abs(sum(team[w].values(), ZERO) - total_per_week[w]) >= CENT
        ]
        if stale:
            notes.append(
                f"The allocation does not add up to the bill in {', '.join(stale)}: run "
                "without --no-rebuild (or mlcost showback --month) to allocate those months."
            )
    if others:
        notes.append(
            "Also billed in other currencies (not in this report): "
            + ", ".join(f"{v:,.2f} {c}" for c, v in sorted(others.items()))
            + "."
        )
    return WeeklyReport(
        week=str(iso),
        start=iso.start,
        end=iso.end,
        owner_key=key,
        owner=owner,
        currency=currency,
        generated_at=now,
        data_start=cov.start.date(),
        data_end=(cov.end - timedelta(seconds=1)).date(),
        complete=cov.complete(iso),
        average_weeks=tuple(str(w) for w in weeks.average),
        total=total,
        history=history,
        breakdowns=breakdowns,
        changes=tuple(changes[: TOP + 3]),
        top_resources=tuple(x for x in _lines(resource, weeks)[:TOP]),
        gpu=gpu,
        budgets=budget_lines,
        anomalies=_anomalies(findings, iso),
        insights=tuple(insights[:TOP]),
        insights_total=open_total,
        insights_count=len(insights),
        insights_source=source,
        units=_units(reads, weeks, owned, currency),
        other_currencies=others,
        insights_one_off=one_off,
        notes=tuple(notes),
        caches=_caches(reads, iso) if owner is None else (),
    )
