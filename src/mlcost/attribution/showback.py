"""Showback statements per owner, reconciled to the invoice, and drill-down behind any cell.

A statement's amounts (in ``metric``, EffectiveCost by default, in the billing currency):

- ``direct``: charges the owner's tags or workloads carry, GPU shares included;
- ``gpu_used`` / ``gpu_idle`` / ``gpu_unmeasured``: the GPU part of ``direct`` split by
  measured utilization (unmeasured: no telemetry; ``coverage`` is the measured share);
- ``gpu_unallocated``: GPU capacity of the owner's resources that no workload claimed;
- ``shared``: what shared-cost rules gave the owner;
- ``unallocated``: ``gpu_unallocated`` for an owner; for the ``(unallocated)`` statement,
  everything that has no owner;
- ``total = direct + shared + unallocated``.

The statements add up to the bill: ``sum(total)`` equals the window's EffectiveCost (and, as
``billed``, its BilledCost), both checked by :class:`Reconciliation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mlcost.attribution.allocate import allocate
from mlcost.config import AttributionConfig

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = [
    "UNALLOCATED",
    "Reconciliation",
    "Showback",
    "Statement",
    "drill_down",
    "showback",
    "statements",
]

UNALLOCATED = "(unallocated)"
_GPU = ("gpu_used", "gpu_idle", "gpu_unmeasured")
AMOUNTS = (
    "direct",
    "shared",
    "gpu_used",
    "gpu_idle",
    "gpu_unmeasured",
    "gpu_unallocated",
    "unallocated",
    "total",
    "billed",
)


@dataclass(frozen=True)
class Statement:
    """One owner's month. Amounts are ``Decimal`` in ``currency``."""

    owner: str
    currency: str
    direct: Decimal
    shared: Decimal
    gpu_used: Decimal
    gpu_idle: Decimal
    gpu_unmeasured: Decimal
    gpu_unallocated: Decimal
    unallocated: Decimal
    total: Decimal
    billed: Decimal
    gpu_hours: float
    by_workload_type: dict[str, Decimal] = field(default_factory=dict)
    by_model: dict[str, Decimal] = field(default_factory=dict)

    @property
    def coverage(self) -> float | None:
        """Share of the owner's GPU workload cost with telemetry (None: no GPU cost)."""
        gpu = self.gpu_used + self.gpu_idle + self.gpu_unmeasured
        return float((self.gpu_used + self.gpu_idle) / gpu) if gpu else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as numbers, rounded to the cent."""
        out: dict[str, Any] = {"owner": self.owner, "currency": self.currency}
        for name in AMOUNTS:
            out[name] = round(float(getattr(self, name)), 2)
        out["gpu_hours"] = round(self.gpu_hours, 3)
        out["coverage"] = None if self.coverage is None else round(self.coverage, 4)
        out["by_workload_type"] = {k: round(float(v), 2) for k, v in self.by_workload_type.items()}
        out["by_model"] = {k: round(float(v), 2) for k, v in self.by_model.items()}
        return out


@dataclass(frozen=True)
class Reconciliation:
    """Statements against the bill of the same window, per metric: (bill, allocated)."""

    currency: str
    effective: tuple[Decimal, Decimal]
    billed: tuple[Decimal, Decimal]

    @property
    def balanced(self) -> bool:
        """Both metrics agree to the cent."""
        return all(abs(a - b) < Decimal("0.005") for a, b in (self.effective, self.billed))


@dataclass(frozen=True)
class Showback:
    """A month's statements, largest first (the unallocated statement last), reconciled."""

    month: str
    owner_key: str
    currency: str
    statements: tuple[Statement, ...]
    reconciliation: Reconciliation
    # The month's inputs had not changed since its last allocation: nothing was allocated.
    reused: bool = False


def _window(rows: ir.Table, start: datetime, end: datetime) -> ir.Table:
    return rows.filter((rows.ChargePeriodStart >= start) & (rows.ChargePeriodStart < end))


def statements(
    warehouse: Warehouse,
    start: datetime,
    end: datetime,
    *,
    owner_key: str = "team",
    metric: str = "EffectiveCost",
) -> list[Statement]:
    """Statements from ``allocated_costs`` as built (see :func:`showback` to build first)."""
    import ibis

    from mlcost.spending import countable_rows

    a = _window(warehouse.table("allocated_costs"), start, end)
    a = a.filter(a.x_OwnerKey == owner_key)
    owner = a.x_Owner.fill_null(UNALLOCATED)
    a = a.mutate(owner=owner)
    billed = a.group_by("owner").aggregate(billed=a.BilledCost.sum())
    c = countable_rows(a, metric)
    m = c[metric]
    b = c.x_Bucket
    agg = c.group_by(["owner", "BillingCurrency"]).aggregate(
        direct=m.sum(where=(b == "direct") | b.isin(list(_GPU))),
        shared=m.sum(where=b == "shared"),
        gpu_used=m.sum(where=b == "gpu_used"),
        gpu_idle=m.sum(where=b == "gpu_idle"),
        gpu_unmeasured=m.sum(where=b == "gpu_unmeasured"),
        gpu_unallocated=m.sum(where=b == "gpu_unallocated"),
        total=m.sum(),
        gpu_hours=c.x_GpuHours.sum(),
    )
    agg = agg.left_join(billed, "owner").drop("owner_right")
    rows = agg.to_pyarrow().to_pylist()
    types = _breakdown(c, metric, c.x_WorkloadType)
    models = _breakdown(c, metric, ibis.coalesce(c.AllocatedTags.get("model"), c.Tags.get("model")))
    out = []
    for r in rows:
        d = {k: Decimal(r[k] or 0) for k in AMOUNTS if k not in ("unallocated",)}
        none = r["owner"] == UNALLOCATED
        unallocated = d["total"] if none else d["gpu_unallocated"]
        out.append(
            Statement(
                owner=r["owner"],
                currency=r["BillingCurrency"] or "USD",
                direct=Decimal(0) if none else d["direct"],
                shared=d["shared"],
                gpu_used=d["gpu_used"],
                gpu_idle=d["gpu_idle"],
                gpu_unmeasured=d["gpu_unmeasured"],
                gpu_unallocated=d["gpu_unallocated"],
                unallocated=unallocated,
                total=d["total"],
                billed=d["billed"],
                gpu_hours=float(r["gpu_hours"] or 0.0),
                by_workload_type=types.get(r["owner"], {}),
                by_model=models.get(r["owner"], {}),
            )
        )
    out.sort(key=lambda s: (s.owner == UNALLOCATED, -s.total, s.owner))
    return out


def _breakdown(c: ir.Table, metric: str, dim: ir.Value) -> dict[str, dict[str, Decimal]]:
    g = c.mutate(dim=dim).group_by(["owner", "dim"]).aggregate(v=c[metric].sum())
    out: dict[str, dict[str, Decimal]] = {}
    for r in g.order_by([g.owner, g.v.desc()]).to_pyarrow().to_pylist():
        if r["dim"] is not None:
            out.setdefault(r["owner"], {})[r["dim"]] = Decimal(r["v"] or 0)
    return out


def reconcile(
    warehouse: Warehouse, start: datetime, end: datetime, *, owner_key: str = "team"
) -> Reconciliation:
    """The window's bill (EffectiveCost without commitment purchases, BilledCost) vs
    ``allocated_costs``."""
    from mlcost.spending import countable_rows

    bill = _window(warehouse.table("cost_line_items"), start, end)
    alloc = _window(warehouse.table("allocated_costs"), start, end)
    alloc = alloc.filter(alloc.x_OwnerKey == owner_key)
    found: dict[str, Decimal] = {}
    currencies: set[str] = set()
    for name, t in (("bill", bill), ("alloc", alloc)):
        for metric in ("EffectiveCost", "BilledCost"):
            rows = countable_rows(t, metric)
            q = rows.group_by("BillingCurrency").aggregate(v=rows[metric].sum())
            for r in q.to_pyarrow().to_pylist():
                currencies.add(r["BillingCurrency"])
                key = f"{name}.{metric}"
                found[key] = found.get(key, Decimal(0)) + Decimal(r["v"] or 0)

    def pair(metric: str) -> tuple[Decimal, Decimal]:
        return found.get(f"bill.{metric}", Decimal(0)), found.get(f"alloc.{metric}", Decimal(0))

    return Reconciliation(
        currency=",".join(sorted(c for c in currencies if c)) or "USD",
        effective=pair("EffectiveCost"),
        billed=pair("BilledCost"),
    )


def showback(
    warehouse: Warehouse,
    config: AttributionConfig,
    month: str,
    *,
    by: str | None = None,
    rebuild: bool = True,
) -> Showback:
    """Allocate ``month`` (``YYYY-MM``) and return its statements per owner.

    ``rebuild``: allocate first, unless the month's inputs did not change since its last
    allocation (then ``reused``); False reads ``allocated_costs`` as built.

    >>> from mlcost import open_warehouse
    >>> from mlcost.config import AttributionConfig
    >>> showback(open_warehouse("duckdb://:memory:"), AttributionConfig(), "2026-10").statements
    ()
    """
    from mlcost.attribution.allocate import month_window

    start, end = month_window(month)
    key = by or config.owner
    reused = False
    if rebuild:
        reused = allocate(warehouse, config, start, end, owner_key=key).reused
    found = statements(warehouse, start, end, owner_key=key)
    rec = reconcile(warehouse, start, end, owner_key=key)
    currency = found[0].currency if found else rec.currency
    return Showback(
        month=month,
        owner_key=key,
        currency=currency,
        statements=tuple(found),
        reconciliation=rec,
        reused=reused,
    )


def drill_down(
    warehouse: Warehouse,
    month: str,
    *,
    owner: str | None,
    column: str = "total",
    owner_key: str = "team",
) -> dict[str, ir.Table]:
    """What is behind one showback cell: ``line_items`` (the allocated rows with their origin
    columns), ``workloads`` and ``telemetry`` (the GPU samples of those resources and hours).

    ``owner`` None (or ``"(unallocated)"``) is the unallocated statement; ``column`` is a
    statement amount (``gpu_idle``, ``shared``, ...).
    """
    from mlcost.attribution.allocate import month_window
    from mlcost.errors import NotFound

    start, end = month_window(month)
    a = _window(warehouse.table("allocated_costs"), start, end)
    a = a.filter(a.x_OwnerKey == owner_key)
    a = (
        a.filter(a.x_Owner.isnull())
        if owner in (None, UNALLOCATED)
        else a.filter(a.x_Owner == owner)
    )
    buckets = {
        "direct": ["direct", *_GPU],
        "shared": ["shared"],
        "unallocated": ["gpu_unallocated"],
        **{b: [b] for b in (*_GPU, "gpu_unallocated")},
    }
    if column not in (*buckets, "total", "billed"):
        raise NotFound(f"No showback column {column!r}. Choose one of {', '.join(AMOUNTS)}.")
    if column in buckets and not (column == "unallocated" and owner in (None, UNALLOCATED)):
        a = a.filter(a.x_Bucket.isin(buckets[column]))
    w = warehouse.table("workloads")
    ids = a.select(wid=a.x_WorkloadId).distinct()
    workloads = w.semi_join(ids, w.workload_id == ids.wid)
    spans = (
        a.filter(a.x_Bucket.startswith("gpu_"))
        .select(rid=a.ResourceId, s=a.ChargePeriodStart, e=a.ChargePeriodEnd)
        .distinct()
    )
    s = warehouse.table("gpu_samples")
    links = warehouse.table("resource_links")
    linked = s.inner_join(links, s.resource_id == links.name)
    telemetry = linked.semi_join(
        spans,
        [
            linked.billed_resource_id == spans.rid,
            linked.time >= spans.s,
            linked.time < spans.e,
        ],
    )
    return {"line_items": a, "workloads": workloads, "telemetry": telemetry}
