"""The owner model: who owns every dollar, kept current once per load, read by every view.

``allocated_costs`` (built by :func:`mlcost.attribution.allocate`) is the model: one row per
(origin charge, share), with the normalized owner (``x_Owner``) under the configured key
(``x_OwnerKey``) and the bucket the money is in. It is rebuilt a month at a time when a load
changed the month (``ingests.loaded_at`` later than the month's ``x_BuiltAt``), when the month
was built for another owner key, or when it was never built — by the ingest commands, by
``mlcost demo`` and by any reader that may write; nothing recomputes it per command otherwise.

Views read it through :func:`owner_rows` and :func:`owner_dimension`:

- ``owner``: the owner of a share of *direct* cost (``direct`` and the GPU shares
  ``gpu_used`` / ``gpu_idle`` / ``gpu_unmeasured``), ``(shared)`` for what shared-cost rules
  spread, ``(unallocated)`` for everything else (no owner, or GPU capacity nobody claimed).
  Grouped, these rows add up to the bill and each owner's row is showback's ``direct``.
- any other canonical key (``project``, ``model``, ``env``): the workload's value on a GPU
  share, else the line item's own tag, normalized like the owner (aliases, value spellings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from mlcost.attribution.tags import TagRules, canonical_key, learn_tag_rules
from mlcost.config import AttributionConfig
from mlcost.errors import NotFound, WarehouseError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = [
    "DIRECT_BUCKETS",
    "OWNER",
    "SHARED",
    "UNALLOCATED",
    "StaleOwnerModel",
    "is_owner_dimension",
    "owner_dimension",
    "owner_rows",
    "refresh",
    "spend",
    "stale_months",
]

OWNER = "owner"
SHARED = "(shared)"
UNALLOCATED = "(unallocated)"
DIRECT_BUCKETS = ("direct", "gpu_used", "gpu_idle", "gpu_unmeasured")


class StaleOwnerModel(WarehouseError):
    """``allocated_costs`` is older than the data and the warehouse is open read-only."""


def _month(d: datetime) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _overlaps(month: str, start: datetime | None, end: datetime | None) -> bool:
    """Whether the month ``YYYY-MM`` overlaps ``[start, end)``."""
    from mlcost.attribution.allocate import month_window

    lo, hi = month_window(month)
    return (start is None or hi > start) and (end is None or lo < end)


def stale_months(
    wh: Warehouse,
    config: AttributionConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[str]:
    """Months (``YYYY-MM``) of the bill in ``[start, end)`` whose owner model is missing,
    built for another owner key, or older than the latest load."""
    bill = wh.table("cost_line_items")
    month = bill.ChargePeriodStart.truncate("M").name("m")
    months = sorted(
        _month(m) for m in bill.select(month).distinct().to_pyarrow().column("m").to_pylist()
    )
    months = [m for m in months if _overlaps(m, start, end)]
    if not months:
        return []
    loaded = wh.table("ingests").loaded_at.max().execute()
    a = wh.table("allocated_costs")
    built = a.group_by(m=a.ChargePeriodStart.truncate("M")).aggregate(
        built=a.x_BuiltAt.min(),
        keys=a.x_OwnerKey.nunique(),
        key=a.x_OwnerKey.max(),
    )
    have = {
        _month(r["m"]): r
        for r in built.to_pyarrow().to_pylist()
        if r["m"] is not None and r["built"] is not None
    }
    checked = _checked(wh)
    out = []
    for m in months:
        r = have.get(m)
        if r is None or r["keys"] != 1 or r["key"] != config.owner:
            out.append(m)
            continue
        # A month whose inputs allocate() found unchanged after a load is current too.
        seen = max(r["built"], checked.get((m, r["key"]), r["built"]))
        if loaded is not None and seen <= loaded:
            out.append(m)
    return out


def _checked(wh: Warehouse) -> dict[tuple[str, str], datetime]:
    """(month, owner key) → when allocate() last found the month's inputs unchanged."""
    if "allocation_builds" not in wh.tables():
        return {}
    rows = wh.table("allocation_builds").to_pyarrow().to_pylist()
    return {(_month(r["period_start"]), r["owner_key"]): r["checked_at"] for r in rows}


def refresh(
    wh: Warehouse,
    config: AttributionConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[str]:
    """Rebuild the stale months of the owner model; returns the months rebuilt."""
    from mlcost.attribution.allocate import allocate, month_window

    months = stale_months(wh, config, start=start, end=end)
    for m in months:
        allocate(wh, config, *month_window(m))
    return months


def ensure_current(
    wh: Warehouse,
    config: AttributionConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> None:
    """Refresh the stale months if the warehouse may be written, else say how to."""
    months = stale_months(wh, config, start=start, end=end)
    if not months:
        return
    if wh.read_only:
        raise StaleOwnerModel(
            f"The owner model (allocated_costs) of {', '.join(months)} is missing or older than "
            f"the last load, and {wh.url} is open read-only. Run `mlcost showback --month "
            f"{months[0]}` (or any ingest) once to rebuild it, then repeat the command."
        )
    refresh(wh, config, start=start, end=end)


def owner_rows(
    wh: Warehouse,
    config: AttributionConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    current: bool = True,
) -> ir.Table:
    """The owner model's rows of ``[start, end)`` (ChargePeriodStart), kept current first
    unless ``current=False`` (read as built)."""
    if current:
        ensure_current(wh, config, start=start, end=end)
    a = wh.table("allocated_costs")
    a = a.filter(a.x_OwnerKey == config.owner)
    if start is not None:
        a = a.filter(a.ChargePeriodStart >= start)
    if end is not None:
        a = a.filter(a.ChargePeriodStart < end)
    return a


def owner_value(a: ir.Table) -> ir.Value:
    """``owner`` of an owner-model row: the owner of direct cost, ``(shared)`` or
    ``(unallocated)``."""
    import ibis

    direct = a.x_Bucket.isin(list(DIRECT_BUCKETS)) & a.x_Owner.notnull()
    return ibis.cases(
        (direct, a.x_Owner),
        (a.x_Bucket == "shared", ibis.literal(SHARED)),
        else_=ibis.literal(UNALLOCATED),
    )


def spend(
    warehouse: Warehouse,
    *,
    by: Sequence[str] = (),
    metric: str = "EffectiveCost",
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    ingest_id: int | None = None,
    attribution: AttributionConfig | None = None,
) -> ir.Table:
    """:func:`mlcost.spending.spend`, where a dimension that is no bill column (``owner``, a
    normalized tag key such as ``project``) is read from the owner model (kept current
    first). Without ``attribution``, or with bill columns only, it is the bill's spend."""
    from mlcost.spending import spend as bill_spend

    lines = warehouse.table("cost_line_items")
    if attribution is not None and _owner_dims(lines, by, attribution):
        return _owner_spend(warehouse, by, metric, start, end, ingest_id, attribution)
    return bill_spend(warehouse, by=by, metric=metric, start=start, end=end, ingest_id=ingest_id)


def _owner_dims(lines: ir.Table, by: Sequence[str], attribution: AttributionConfig) -> bool:
    folded = {c.lower() for c in lines.columns}
    return any(n.lower() not in folded and is_owner_dimension(n, attribution) for n in by)


def _owner_spend(
    warehouse: Warehouse,
    by: Sequence[str],
    metric: str,
    start: date | datetime | str | None,
    end: date | datetime | str | None,
    ingest_id: int | None,
    attribution: AttributionConfig,
) -> ir.Table:
    from mlcost.spending import _as_datetime, countable_rows, resolve_dimension

    lo = None if start is None else _as_datetime(start)
    hi = None if end is None else _as_datetime(end)
    t = countable_rows(owner_rows(warehouse, attribution, start=lo, end=hi), metric)
    if ingest_id is not None:
        t = t.filter(t.x_IngestId == ingest_id)
    folded = {c.lower() for c in t.columns}
    owned = [n for n in by if n.lower() not in folded and is_owner_dimension(n, attribution)]
    tagged = [n for n in owned if n != "owner" and n != attribution.owner]
    rules = rules_for(warehouse, attribution, tagged) if tagged else None
    keys = [
        owner_dimension(t, n, attribution, rules) if n in owned else resolve_dimension(t, n).name(n)
        for n in by
    ]
    grouped = t.group_by([*keys, t.BillingCurrency]).aggregate(**{metric: t[metric].sum()})
    return grouped.order_by(grouped[metric].desc(), *[grouped[name] for name in by])


def is_owner_dimension(name: str, config: AttributionConfig) -> bool:
    """Whether ``name`` is ``owner`` or a canonical tag key (not a column, not ``tag:``)."""
    if name.startswith("tag:"):
        return False
    return name == OWNER or canonical_key(name, config) is not None


def owner_dimension(
    a: ir.Table, name: str, config: AttributionConfig, rules: TagRules | None = None
) -> ir.Value:
    """The expression for ``owner`` or a canonical key over owner-model rows."""
    key = OWNER if name == OWNER else canonical_key(name, config)
    if key is None:
        raise NotFound(f"{name!r} is not owner or a tag key the configuration knows.")
    if key in (OWNER, config.owner):
        return owner_value(a).name(name)
    import ibis

    if rules is None or key not in rules.keys:
        return ibis.null().cast("string").name(name)

    own = rules.value(a.Tags, key)
    split = a.AllocatedTags.get(key)
    return ibis.coalesce(split, own).name(name)


def rules_for(wh: Warehouse, config: AttributionConfig, names: Sequence[str]) -> TagRules:
    """Tag rules that know every key in ``names`` (canonical ones, or added as required)."""
    keys = [canonical_key(n, config) or n for n in names if n != OWNER]
    extra = tuple(k for k in keys if k and k not in (config.owner, *config.required))
    cfg = replace(config, required=(*config.required, *extra)) if extra else config
    return learn_tag_rules(wh, cfg)


def line_owners(
    wh: Warehouse,
    config: AttributionConfig,
    start: datetime,
    end: datetime,
    *,
    keys: Sequence[str] = (),
) -> ir.Table:
    """The line items of ``[start, end)`` with ``owner`` and ``k_<key>`` for each canonical key
    of ``keys``: the line item's own tag (aliases and value spellings applied), else inherited
    from the workloads that ran on the resource, else the account default — the owner
    ``allocated_costs`` gives a charge that no workload claims (showback's rule), for one hour
    or day without building the month."""
    from mlcost.attribution.allocate import _lines

    wanted = [canonical_key(k, config) or k for k in keys]
    rules = rules_for(wh, config, wanted)
    lines = _lines(wh, rules, start, end)
    return lines.mutate(
        owner=lines[f"o_{config.owner}"],
        **{f"k_{k}": lines[f"o_{k}"] for k in dict.fromkeys(wanted)},
    )


def resource_owners(wh: Warehouse, config: AttributionConfig, ids: Sequence[str]) -> dict[str, str]:
    """The owner of each billed resource in the owner model as built: the owner of most of its
    direct cost (a node shared by teams goes to the largest)."""
    import ibis

    if not ids:
        return {}
    a = wh.table("allocated_costs")
    a = a.filter(
        (a.x_OwnerKey == config.owner)
        & a.ResourceId.isin(list(ids))
        & a.x_Owner.notnull()
        & a.x_Bucket.isin(list(DIRECT_BUCKETS))
    )
    g = a.group_by(["ResourceId", "x_Owner"]).aggregate(c=a.EffectiveCost.abs().sum())
    g = g.mutate(
        rn=ibis.row_number().over(
            ibis.window(group_by="ResourceId", order_by=[ibis.desc("c"), "x_Owner"])
        )
    )
    rows = g.filter(g.rn == 0).to_pyarrow().to_pylist()
    return {r["ResourceId"]: r["x_Owner"] for r in rows}
