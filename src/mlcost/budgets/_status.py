"""Budget status: the period, spend so far, the forecast, and the thresholds crossed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mlcost.budgets.forecast import Forecast, forecast_total
from mlcost.config import AttributionConfig, BudgetConfig

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["BudgetStatus", "Crossing", "alerts_for", "budget_status", "period_of"]


@dataclass(frozen=True)
class Crossing:
    """One threshold that the actual spend (``kind="actual"``) or the forecast has reached."""

    kind: str
    threshold: float
    amount: Decimal


@dataclass(frozen=True)
class BudgetStatus:
    """A budget in its current period. Amounts are in ``currency``."""

    budget: BudgetConfig
    period_start: date
    period_end: date  # exclusive
    spent: Decimal
    currency: str
    forecast: Forecast
    crossed: tuple[Crossing, ...]

    @property
    def used(self) -> float:
        """Spent as a fraction of the budget."""
        return float(self.spent / self.budget.amount) if self.budget.amount else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and tables."""
        f = self.forecast
        return {
            "budget": self.budget.name,
            "period": f"{self.period_start}..{self.period_end - timedelta(days=1)}",
            "amount": float(self.budget.amount),
            "spent": float(self.spent),
            "used": round(self.used, 4),
            "forecast": None if f.total is None else round(f.total, 2),
            "forecast_low": None if f.low is None else round(f.low, 2),
            "forecast_high": None if f.high is None else round(f.high, 2),
            "forecast_note": f.reason or f.model,
            "crossed": ", ".join(f"{c.kind} {c.threshold:.0%}" for c in self.crossed) or "-",
            "currency": self.currency,
        }


def period_of(budget: BudgetConfig, day: date) -> tuple[date, date]:
    """The budget period that contains ``day``: ``[start, end)``."""
    if budget.period == "custom":
        assert budget.start is not None and budget.end is not None
        return budget.start, budget.end
    if budget.period == "quarterly":
        first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        months = 3
    else:
        first = date(day.year, day.month, 1)
        months = 1
    m = first.month - 1 + months
    return first, date(first.year + m // 12, m % 12 + 1, 1)


def scoped_rows(
    wh: Warehouse,
    budget: BudgetConfig,
    start: datetime,
    end: datetime,
    attribution: AttributionConfig | None = None,
) -> Any:
    """The rows ``budget`` counts in ``[start, end)``: line items, or for an ``owner`` scope
    the owner model's rows (direct shares, or every share with ``basis = "total"``)."""
    from mlcost.spending import countable_rows, resolve_dimension

    scope = dict(budget.scope)
    owners = scope.pop("owner", None)
    if owners is None:
        t = wh.table("cost_line_items")
        t = t.filter((t.ChargePeriodStart >= start) & (t.ChargePeriodStart < end))
    else:
        from mlcost.attribution.model import DIRECT_BUCKETS, owner_rows

        if attribution is None:  # read as built, whatever key it was built for
            t = wh.table("allocated_costs")
            t = t.filter((t.ChargePeriodStart >= start) & (t.ChargePeriodStart < end))
        else:
            t = owner_rows(wh, attribution, start=start, end=end)
        t = t.filter(t.x_Owner.isin(list(owners)))
        if budget.basis == "direct":
            t = t.filter(t.x_Bucket.isin(list(DIRECT_BUCKETS)))
    t = t.filter(t.BillingCurrency == budget.currency)
    t = countable_rows(t, budget.metric)
    for dim, values in scope.items():
        t = t.filter(resolve_dimension(t, dim).isin(list(values)))
    return t


def daily_spend(
    wh: Warehouse,
    budget: BudgetConfig,
    start: date,
    end: date,
    attribution: AttributionConfig | None = None,
) -> Any:
    """What ``budget`` spent per day (``day``, ``amount``) in ``[start, end)``."""
    import ibis

    lo = datetime.combine(start, datetime.min.time())
    hi = datetime.combine(end, datetime.min.time())
    t = scoped_rows(wh, budget, lo, hi, attribution)
    day = t.ChargePeriodStart.date().name("day")
    return t.group_by(day).aggregate(amount=t[budget.metric].sum()).order_by(ibis._.day)


def _data_until(wh: Warehouse) -> date | None:
    t = wh.table("cost_line_items")
    latest = t.ChargePeriodStart.max().execute()
    return None if latest is None else latest.date()


def budget_status(
    wh: Warehouse,
    budget: BudgetConfig,
    *,
    as_of: date | datetime | None = None,
    attribution: AttributionConfig | None = None,
) -> BudgetStatus:
    """Where ``budget`` stands in the period containing ``as_of`` (default: the latest day
    with any spend in the warehouse, since bills arrive a day or two late).

    Spend counts only rows billed in the budget's currency; a forecast needs a week of data.
    An ``owner`` scope reads attribution's owner model, kept current with ``attribution``
    (without it: ``allocated_costs`` as built).
    """
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    day = as_of or _data_until(wh) or datetime.now().date()
    start, end = period_of(budget, day)
    # Days after as_of are the future even if rows (restatements) exist for them.
    stop = min(end, day + timedelta(days=1))
    rows = daily_spend(wh, budget, start, stop, attribution).to_pyarrow().to_pylist()
    daily = [(r["day"], float(r["amount"] or 0)) for r in rows]
    spent = sum((Decimal(str(r["amount"] or 0)) for r in rows), Decimal(0))
    if daily and max(d for d, _ in daily) < day:
        daily.append((day, 0.0))  # days without spend up to as_of are zero, not unknown
    elif not daily and day >= start:
        daily = [(start + timedelta(days=i), 0.0) for i in range((day - start).days + 1)]
    if daily and min(d for d, _ in daily) > start:
        daily.insert(0, (start, 0.0))
    fc = forecast_total(daily, period_end=end)
    crossed = [
        Crossing("actual", th, spent) for th in budget.thresholds if spent >= budget.amount * _d(th)
    ]
    if fc.total is not None:
        crossed += [
            Crossing("forecast", th, Decimal(str(round(fc.total, 2))))
            for th in budget.forecast_thresholds
            if fc.total >= float(budget.amount) * th
        ]
    return BudgetStatus(budget, start, end, spent, budget.currency, fc, tuple(crossed))


def _d(x: float) -> Decimal:
    return Decimal(str(x))


def alerts_for(statuses: Iterable[BudgetStatus]) -> list[dict[str, Any]]:
    """The alert rows (``alerts`` table shape) for every threshold crossed in ``statuses``.

    The key ``budget|<name>|<period start>|<kind>|<threshold>`` is what makes each threshold
    fire once per budget per period: the warehouse keeps the first and ignores the rest.
    """
    out = []
    now = datetime.now().replace(microsecond=0)
    for s in statuses:
        for c in s.crossed:
            key = f"budget|{s.budget.name}|{s.period_start}|{c.kind}|{c.threshold:g}"
            what = "spent" if c.kind == "actual" else "is forecast to spend"
            message = (
                f"Budget {s.budget.name!r} {what} {c.amount:,.2f} {s.currency} of "
                f"{s.budget.amount:,.2f} {s.currency} ({c.kind} threshold {c.threshold:.0%}, "
                f"period {s.period_start}..{s.period_end - timedelta(days=1)})."
            )
            payload = {
                "alert_key": key,
                "source": "budget",
                "budget": s.budget.name,
                "scope": {k: list(v) for k, v in s.budget.scope.items()},
                "period_start": str(s.period_start),
                "period_end": str(s.period_end),
                "kind": c.kind,
                "threshold": c.threshold,
                "amount": float(c.amount),
                "limit": float(s.budget.amount),
                "currency": s.currency,
                "message": message,
            }
            out.append(
                {
                    "alert_key": key,
                    "source": "budget",
                    "subject": s.budget.name,
                    "period_start": s.period_start,
                    "kind": c.kind,
                    "threshold": c.threshold,
                    "amount": float(c.amount),
                    "limit_amount": float(s.budget.amount),
                    "currency": s.currency,
                    "message": message,
                    "payload": json.dumps(payload, sort_keys=True),
                    "created_at": now,
                    "_channels": s.budget.channels,
                }
            )
    return out


def statuses(
    wh: Warehouse,
    budgets: Sequence[BudgetConfig],
    *,
    as_of: date | datetime | None = None,
    attribution: AttributionConfig | None = None,
) -> list[BudgetStatus]:
    """:func:`budget_status` of each budget."""
    return [budget_status(wh, b, as_of=as_of, attribution=attribution) for b in budgets]
