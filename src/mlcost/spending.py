"""Spend: sum a FOCUS cost metric by any dimensions, in its billing currency.

A dimension is any column of ``cost_line_items`` (FOCUS 1.4 names, or our ``x_`` columns) or
``tag:<key>`` for a key of the FOCUS ``Tags`` object. ``tag:team|Team|team_name`` takes the
first of several spellings of a key that a row has (real bills have them all). Given the
``[attribution]`` settings, ``owner`` and any normalized tag key (``project``, ``team``) are
dimensions too, read from attribution's owner model (:mod:`mlcost.attribution.model`): each
owner's direct cost plus the ``(shared)`` and ``(unallocated)`` rows, summing to the bill.

Commitment purchases are never counted twice. FOCUS puts the amortized cost of a commitment
on the usage rows it covers (EffectiveCost) and gives the purchase row an EffectiveCost of 0;
for EffectiveCost, ListCost and ContractedCost, mlcost leaves commitment purchase rows
(ChargeCategory = 'Purchase' with a CommitmentDiscountId) out, so a non-conformant export that
repeats the amount on the purchase row cannot double it. BilledCost is the invoice view and
counts every row, the purchase included.

    >>> from mlcost import open_warehouse, spend
    >>> wh = open_warehouse("duckdb://:memory:")
    >>> spend(wh, by=["ServiceProviderName"]).columns
    ('ServiceProviderName', 'BillingCurrency', 'EffectiveCost')
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mlcost.errors import NotFound

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = [
    "METRICS",
    "countable_rows",
    "resolve_dimension",
    "spend",
    "spend_rows",
    "total_by_currency",
]

METRICS = ("EffectiveCost", "BilledCost", "ListCost", "ContractedCost")
TAG_PREFIX = "tag:"
_RENAMED = {
    "ProviderName": "ServiceProviderName",
    "PublisherName": "ServiceProviderName",
}


def countable_rows(t: ir.Table, metric: str) -> ir.Table:
    """The rows whose ``metric`` adds up to spend without counting a commitment twice."""
    if metric == "BilledCost":
        return t
    # ChargeCategory is non-null in FOCUS; IS DISTINCT FROM keeps a null one all the same.
    return t.filter(~t.ChargeCategory.identical_to("Purchase") | t.CommitmentDiscountId.isnull())


def resolve_dimension(t: ir.Table, name: str) -> ir.Value:
    """The expression for a dimension name: a column, or ``tag:<key>``."""
    if name.startswith(TAG_PREFIX):
        import ibis

        keys = [k.strip() for k in name[len(TAG_PREFIX) :].split("|")]
        if not all(keys):
            raise NotFound("An empty tag key: write tag:<key>, e.g. tag:team or tag:team|Team.")
        values = [t.Tags.get(k) for k in keys]
        return (values[0] if len(values) == 1 else ibis.coalesce(*values)).name(name)
    if name in t.columns:
        return t[name]
    folded = {c.lower(): c for c in t.columns}
    if name.lower() in folded:
        return t[folded[name.lower()]]
    if name in _RENAMED:
        raise NotFound(
            f"{name!r} was replaced by {_RENAMED[name]!r} in FOCUS 1.3 and removed in 1.4; "
            f"group by {_RENAMED[name]} (the original value is kept in x_{name})."
        )
    near = difflib.get_close_matches(name, t.columns, n=3)
    hint = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    raise NotFound(
        f"No column {name!r} to group spend by.{hint} Use a FOCUS column name or tag:<key>."
    )


def _as_datetime(value: date | datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(value)


def spend(
    warehouse: Warehouse,
    by: Sequence[str] = ("ServiceProviderName",),
    *,
    metric: str = "EffectiveCost",
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    ingest_id: int | None = None,
    rollup: bool = True,
) -> ir.Table:
    """Spend grouped by ``by`` plus ``BillingCurrency``, largest first, as an Ibis table.

    ``start`` is inclusive and ``end`` exclusive, both on ChargePeriodStart (UTC).
    The amount column is named after ``metric``.

    When every dimension is one the warehouse's daily rollup keeps and the window is whole
    days, the answer comes from the rollup (the same sums, from thousands of rows instead of
    millions); ``rollup=False`` always reads the line items.

    Owner dimensions (``owner``, a normalized tag key such as ``project``) are the owner
    model's: :func:`mlcost.attribution.spend` answers those and calls this for the rest.
    """
    lines, columns, lo, hi = _question(warehouse, by, metric, start, end)
    daily = warehouse.rollup() if rollup else None
    if daily is not None and _answers(columns, lo, hi):
        t = daily
        if lo is not None:
            t = t.filter(t.ChargeDay >= lo.date())
        if hi is not None:
            t = t.filter(t.ChargeDay < hi.date())
        if metric != "BilledCost":
            t = t.filter(~t.x_CommitmentPurchase)
        keys = [t[c.get_name()].name(n) for c, n in zip(columns, by, strict=True) if c is not None]
    else:
        t = lines
        if lo is not None:
            t = t.filter(t.ChargePeriodStart >= lo)
        if hi is not None:
            t = t.filter(t.ChargePeriodStart < hi)
        t = countable_rows(t, metric)
        keys = [resolve_dimension(t, name).name(name) for name in by]
    if ingest_id is not None:
        t = t.filter(t.x_IngestId == ingest_id)
    grouped = t.group_by([*keys, t.BillingCurrency]).aggregate(**{metric: t[metric].sum()})
    return grouped.order_by(grouped[metric].desc(), *[grouped[name] for name in by])


def _question(
    warehouse: Warehouse,
    by: Sequence[str],
    metric: str,
    start: date | datetime | str | None,
    end: date | datetime | str | None,
) -> tuple[ir.Table, list[ir.Value | None], datetime | None, datetime | None]:
    """The line items, the column each dimension names (None for a tag) and the window;
    an unknown metric or dimension fails here."""
    if metric not in METRICS:
        near = difflib.get_close_matches(metric, METRICS, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise NotFound(f"Unknown metric {metric!r}.{hint} Choose one of {', '.join(METRICS)}.")
    lines = warehouse.table("cost_line_items")
    columns = [None if n.startswith(TAG_PREFIX) else resolve_dimension(lines, n) for n in by]
    lo = None if start is None else _as_datetime(start)
    hi = None if end is None else _as_datetime(end)
    return lines, columns, lo, hi


def spend_rows(
    warehouse: Warehouse,
    by: Sequence[str] = ("ServiceProviderName",),
    *,
    metric: str = "EffectiveCost",
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    ingest_id: int | None = None,
) -> list[dict[str, Any]]:
    """:func:`spend`'s rows (``spend(...).to_pyarrow().to_pylist()``), the same values in
    the same order. A question the daily rollup answers is one parameterised query on it
    (:meth:`~mlcost.warehouse.Warehouse.daily_sums`), without an Ibis expression to build and
    compile: for callers that ask many distinct questions (``mlcost serve``). One by a tag
    is answered from a rollup by that tag where the engine keeps one (DuckDB on a read-only
    open: built once, then each question reads it), else compiled once per shape."""
    _, columns, lo, hi = _question(warehouse, by, metric, start, end)
    if "BillingCurrency" not in by and _answers(columns, lo, hi, tags=True):
        # A tag is a dimension of the engine's rollups by tag, where it keeps them.
        keys = [(n if c is None else c.get_name(), n) for c, n in zip(columns, by, strict=True)]
        found = warehouse.daily_sums(
            keys,
            metric,
            first_day=None if lo is None else lo.date(),
            end_day=None if hi is None else hi.date(),
            ingest_id=ingest_id,
            purchases=metric == "BilledCost",
        )
        if found is not None:
            return found
    if ingest_id is None and all(b is None or b.tzinfo is None for b in (lo, hi)):
        sql = _prepared(warehouse, by, metric, lo is not None, hi is not None)
        if sql is not None:
            window = {"lo": lo, "hi": hi}
            return warehouse.run_prepared(sql, {k: v for k, v in window.items() if v})
    expr = spend(warehouse, by, metric=metric, start=start, end=end, ingest_id=ingest_id)
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


# A question read from the line items (a tag, part days) is compiled once per shape (engine,
# columns, dimensions, metric, which bounds) with stand-in bounds, then run with its own.
_STAND_INS = {"lo": datetime(1111, 1, 1, 1, 1, 1), "hi": datetime(2222, 2, 2, 2, 2, 2)}
_PREPARED: dict[Hashable, str | None] = {}
_MAX_PREPARED = 1024


def _prepared(
    warehouse: Warehouse, by: Sequence[str], metric: str, lo: bool, hi: bool
) -> str | None:
    columns = tuple(warehouse.table("cost_line_items").columns)
    key = (warehouse.engine, columns, tuple(by), metric, lo, hi)
    if key in _PREPARED:
        return _PREPARED.get(key)
    stand_ins = {k: v for k, v in _STAND_INS.items() if (lo if k == "lo" else hi)}
    expr = spend(
        warehouse,
        by,
        metric=metric,
        start=stand_ins.get("lo"),
        end=stand_ins.get("hi"),
        rollup=False,
    )
    sql = warehouse.prepared(expr, stand_ins)
    if len(_PREPARED) >= _MAX_PREPARED:
        _PREPARED.clear()
    _PREPARED[key] = sql
    return sql


def _answers(
    columns: Sequence[ir.Value | None],
    lo: datetime | None,
    hi: datetime | None,
    *,
    tags: bool = False,
) -> bool:
    """Whether the daily rollup holds this question: its columns (and, with ``tags``, tag
    dimensions, which the engine may roll up by on demand), whole UTC days."""
    from mlcost.warehouse import ROLLUP_DIMENSIONS

    for bound in (lo, hi):
        if bound is not None and (bound.tzinfo is not None or bound.time() != time()):
            return False
    return all((tags if c is None else c.get_name() in ROLLUP_DIMENSIONS) for c in columns)


def total_by_currency(
    warehouse: Warehouse, *, metric: str = "EffectiveCost", ingest_id: int | None = None
) -> dict[str, Decimal]:
    """Total ``metric`` per billing currency: ``{"USD": Decimal("1234.50")}``."""
    table = spend(warehouse, by=(), metric=metric, ingest_id=ingest_id).to_pyarrow()
    totals: dict[str, Decimal] = {}
    for row in table.to_pylist():
        amount = row[metric]
        totals[row["BillingCurrency"]] = Decimal(0) if amount is None else Decimal(amount)
    return totals
