"""The warehouse reads behind a weekly report, each done once per run.

:class:`Reads` caches what every owner's report needs (statements, allocated costs per week,
runs, endpoints, findings, week totals) so that ``mlcost report weekly --per-owner`` reads the
warehouse once; :func:`budget_line` is a budget's status and daily spend as of a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mlcost.report._model import ZERO, BudgetLine
from mlcost.report._week import IsoWeek

__all__ = ["Reads", "budget_line", "week_totals"]

if TYPE_CHECKING:
    from mlcost.attribution import Statement
    from mlcost.config import AttributionConfig, BudgetConfig
    from mlcost.insights import Finding, Plan
    from mlcost.warehouse import Warehouse


class Reads:
    """The warehouse reads a report needs, each done once however many owners' reports are
    built from them (``mlcost report weekly --per-owner``): unscoped, filtered in Python."""

    def __init__(self, wh: Warehouse, owner_key: str, currency: str, weeks: Sequence[IsoWeek]):
        self.wh, self.owner_key, self.currency, self.weeks = wh, owner_key, currency, weeks
        self._cache: dict[Any, Any] = {}

    def _once(self, key: Any, compute: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def statements(self, w: IsoWeek, owner: str | None) -> list[Statement]:
        """:func:`mlcost.attribution.statements` of the week in the report's currency."""
        from mlcost.attribution import statements

        found: list[Statement] = self._once(
            ("statements", w),
            lambda: statements(self.wh, w.start_dt, w.end_dt, owner_key=self.owner_key),
        )
        return [
            s for s in found if s.currency == self.currency and (owner is None or s.owner == owner)
        ]

    def allocated_by(
        self, name: str, dimension: Any, owner: str | None
    ) -> dict[IsoWeek, dict[str, Decimal]]:
        """EffectiveCost of ``allocated_costs`` per week and value of ``dimension(table)``."""
        rows: list[dict[str, Any]] = self._once(
            ("allocated", name), lambda: self._allocated(dimension)
        )
        out: dict[IsoWeek, dict[str, Decimal]] = {}
        for r in rows:
            if owner is not None and r["owner"] != owner:
                continue
            key = "(none)" if r["value"] is None else str(r["value"])
            cell = out.setdefault(IsoWeek.of(r["monday"]), {})
            cell[key] = cell.get(key, ZERO) + Decimal(r["cost"] or 0)
        return out

    def _allocated(self, dimension: Any) -> list[dict[str, Any]]:
        from mlcost.spending import countable_rows

        a = self.wh.table("allocated_costs")
        lo, hi = min(self.weeks), max(self.weeks)
        a = a.filter(
            (a.ChargePeriodStart >= lo.start_dt)
            & (a.ChargePeriodStart < hi.end_dt)
            & (a.x_OwnerKey == self.owner_key)
            & (a.BillingCurrency == self.currency)
        )
        a = countable_rows(a, "EffectiveCost")
        a = a.mutate(
            monday=a.ChargePeriodStart.truncate("W").date(), value=dimension(a), owner=a.x_Owner
        )
        g = a.group_by(["monday", "owner", "value"]).aggregate(cost=a.EffectiveCost.sum())
        rows: list[dict[str, Any]] = g.to_pyarrow().to_pylist()
        return rows

    def _rows(self, key: Any, expr: Any) -> list[dict[str, Any]]:
        """The rows of the expression ``expr()`` builds, read once per ``key`` (map columns,
        such as a run's metrics, as dicts on every engine)."""
        from mlcost.warehouse import fetch_rows

        return list(self._once(key, lambda: fetch_rows(expr())))

    def runs(self, w: IsoWeek) -> list[dict[str, Any]]:
        from mlcost.attribution import cost_per_run

        return self._rows(("runs", w), lambda: cost_per_run(self.wh, w.start_dt, w.end_dt))

    def endpoints(self, w: IsoWeek) -> list[dict[str, Any]]:
        from mlcost.attribution import cost_per_endpoint

        return self._rows(
            ("endpoints", w), lambda: cost_per_endpoint(self.wh, w.start_dt, w.end_dt)
        )

    def tokens(self, w: IsoWeek) -> list[dict[str, Any]]:
        from mlcost.attribution.serving import has_served_tokens, token_costs

        if not self._once(("has_tokens",), lambda: has_served_tokens(self.wh)):
            return []
        return self._rows(("tokens", w), lambda: token_costs(self.wh, w.start_dt, w.end_dt, by=()))

    def caches(self, w: IsoWeek) -> list[dict[str, Any]]:
        from mlcost.attribution.cache_savings import cache_savings

        return self._rows(("caches", w), lambda: cache_savings(self.wh, w.start_dt, w.end_dt))

    def spans(self) -> dict[str, tuple[datetime | None, datetime | None]]:
        def read() -> dict[str, tuple[datetime | None, datetime | None]]:
            t = self.wh.table("workloads").select("workload_id", "start", "end")
            return {r["workload_id"]: (r["start"], r["end"]) for r in t.to_pyarrow().to_pylist()}

        found: dict[str, tuple[datetime | None, datetime | None]] = self._once("spans", read)
        return found

    def findings(self, config: AttributionConfig) -> tuple[list[Finding], str]:
        found: tuple[list[Finding], str] = self._once(
            "findings", lambda: _findings(self.wh, config)
        )
        return found

    def plan(self, config: AttributionConfig) -> Plan:
        """The savings plan of the report's findings (``mlcost insights --plan``)."""
        from mlcost.insights import stored_plan

        found: Plan = self._once(
            "plan", lambda: stored_plan(self.wh, config, self.findings(config)[0])
        )
        return found

    def week_totals(self, w: IsoWeek) -> dict[str, Decimal]:
        found: dict[str, Decimal] = self._once(("totals", w), lambda: week_totals(self.wh, w))
        return found


def week_totals(wh: Warehouse, w: IsoWeek) -> dict[str, Decimal]:
    """The week's EffectiveCost per currency: ``mlcost spend --from MON --to NEXT-MON``."""
    from mlcost.spending import spend

    rows = spend(wh, by=(), start=w.start_dt, end=w.end_dt).to_pyarrow().to_pylist()
    return {r["BillingCurrency"]: Decimal(r["EffectiveCost"] or 0) for r in rows}


def budget_line(wh: Warehouse, budget: BudgetConfig, as_of: date) -> BudgetLine:
    from mlcost.budgets import budget_status
    from mlcost.budgets._status import daily_spend

    # Owner budgets read allocated_costs as built: the report allocates what it reads first.
    st = budget_status(wh, budget, as_of=as_of)
    stop = min(st.period_end, as_of + timedelta(days=1))
    # The rows the status counts, by day.
    rows = daily_spend(wh, budget, st.period_start, stop).to_pyarrow().to_pylist()
    per_day = {r["day"]: Decimal(r["amount"] or 0) for r in rows}
    days = (stop - st.period_start).days
    daily = tuple(
        (d, per_day.get(d, ZERO)) for d in (st.period_start + timedelta(i) for i in range(days))
    )
    f = st.forecast

    def dec(x: float | None) -> Decimal | None:
        return None if x is None else Decimal(str(round(x, 2)))

    return BudgetLine(
        name=budget.name,
        currency=st.currency,
        amount=budget.amount,
        period_start=st.period_start,
        period_end=st.period_end,
        as_of=as_of,
        spent=st.spent,
        forecast=dec(f.total),
        forecast_low=dec(f.low),
        forecast_high=dec(f.high),
        forecast_note=f.reason or f.model,
        crossed=tuple(f"{c.kind} {c.threshold:.0%}" for c in st.crossed),
        daily=daily,
    )


def _findings(wh: Warehouse, config: AttributionConfig) -> tuple[list[Finding], str]:
    from mlcost.insights import load_findings, run_insights

    stored = load_findings(wh, config)
    if stored:
        return stored, "stored"
    return run_insights(wh, config), "computed"
