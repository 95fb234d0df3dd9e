"""The bill split into owners: FOCUS 1.3 split-cost-allocation rows that sum to their origin.

For a window of charge periods, every line item of ``cost_line_items`` (the *origin charge*)
becomes one or more rows of ``allocated_costs`` (the *allocated charges*):

- a GPU line item is split by :mod:`mlcost.attribution.gpu` into workload shares (used,
  idle, unmeasured) and unallocated capacity;
- any other line item is one ``direct`` row, owned by its tags;
- a row a ``[[attribution.shared]]`` rule matches is spread over owners instead (``shared``).

Owners: the canonical owner tag (``[attribution] owner``, default ``team``) of the workload,
else of the line item's own tags, else inherited from the workloads that ran on the resource,
else the account's default (``[attribution.accounts]``). No owner: the explicit unallocated
bucket (``x_Owner`` NULL), never dropped.

Summable metrics (costs and quantities) are split by cumulative ratio and rounded to 12
decimals before differencing, so the allocated rows of one origin add up to it exactly, not
approximately: ``sum(allocated) == origin`` for BilledCost, EffectiveCost, ListCost,
ContractedCost and the quantities. Dimensions and unit prices are copied from the origin (FOCUS
1.3 *Data Generator-Calculated Split Cost Allocation Handling*). ``AllocatedMethodId``,
``AllocatedMethodDetails`` (``{"Elements": [{"AllocatedRatio", "UsageUnit", "UsageQuantity"}]}``),
``AllocatedResourceId`` / ``Name`` and ``AllocatedTags`` are set on rows that are a split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlcost.attribution.classify import workload_type
from mlcost.attribution.gpu import gpu_lines, gpu_portions, linked_workloads, no_workload
from mlcost.attribution.tags import TagRules, learn_tag_rules
from mlcost.config import AttributionConfig, SharedRule
from mlcost.warehouse import FOCUS_COLUMNS

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = ["SPLIT_METRICS", "Allocation", "allocate", "allocation_rows", "month_window"]

# Summable FOCUS columns: split; everything else is copied from the origin charge.
SPLIT_METRICS = tuple(
    c.name for c in FOCUS_COLUMNS if c.kind == "decimal" and not c.name.endswith("UnitPrice")
)
_PORTION = (
    "x_OriginRow",
    "bucket",
    "ratio",
    "workload_id",
    "workload_source",
    "workload_kind",
    "workload_name",
    "gpu_hours",
    "utilization",
)


@dataclass(frozen=True)
class Allocation:
    """What :func:`allocate` wrote: the window, the owner key and the rows. ``reused``: the
    window's inputs had not changed since it was built, so nothing was allocated again."""

    start: datetime
    end: datetime
    owner_key: str
    rows: int
    reused: bool = False


def month_window(month: str) -> tuple[datetime, datetime]:
    """``"2026-10"`` → (2026-10-01, 2026-11-01)."""
    from mlcost.errors import ConfigError

    try:
        start = datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise ConfigError(f"Month {month!r} is not YYYY-MM, e.g. 2026-10.") from None
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


# What the allocation reads of an origin charge before its allocated rows are written: the
# owner (account defaults), the GPU split (gpu_lines, gpu_portions), the workload type
# (classify), the shared rules' bases.
# Every other column is copied from the origin by the final join on x_OriginRow.
_WORKING = (
    "x_OriginRow",
    "BillingAccountId",
    "SubAccountId",
    "ResourceId",
    "ResourceName",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "CommitmentDiscountStatus",
    "ServiceCategory",
    "EffectiveCost",
    "Tags",
    "x_GpuCount",
)


def _origins(warehouse: Warehouse, start: datetime, end: datetime) -> ir.Table | None:
    """The window's line items with the engine's row id as ``x_OriginRow`` (None: no ids)."""
    t = warehouse.with_row_ids("cost_line_items", "x_OriginRow")
    if t is None:
        return None
    return t.filter((t.ChargePeriodStart >= start) & (t.ChargePeriodStart < end))


def _working_columns(t: ir.Table, shared: Sequence[SharedRule]) -> list[str]:
    """:data:`_WORKING` plus the columns the shared rules match on."""
    from mlcost.spending import TAG_PREFIX, resolve_dimension

    wanted = set(_WORKING)
    for rule in shared:
        for dim in rule.match:
            tag = dim.startswith(TAG_PREFIX)
            wanted.add("Tags" if tag else resolve_dimension(t, dim).get_name())
    return [c for c in t.columns if c in wanted]


def _lines(
    warehouse: Warehouse,
    rules: TagRules,
    start: datetime,
    end: datetime,
    *,
    origins: ir.Table | None = None,
    columns: Sequence[str] | None = None,
) -> ir.Table:
    """The origin charges of the window, numbered, with their owner tags (``o_<key>``).

    ``origins``: the window's line items already numbered (:func:`_origins`); ``columns``:
    keep only these of the line item's columns (all by default).
    """
    import ibis

    if origins is None:
        t = warehouse.table("cost_line_items")
        t = t.filter((t.ChargePeriodStart >= start) & (t.ChargePeriodStart < end))
        t = t.mutate(x_OriginRow=ibis.row_number())
    else:
        t = origins
    if columns is not None:
        t = t.select(*[c for c in t.columns if c in columns])
    keys = rules.canonical_keys
    own = {k: rules.value(t.Tags, k) for k in keys}
    wl = linked_workloads(warehouse, rules)
    inherited = wl.group_by(rid=wl.billed_resource_id).aggregate(
        **{f"i_{k}": wl[f"w_{k}"].max() for k in keys}
    )
    t = t.mutate(**{f"t_{k}": v for k, v in own.items()})
    j = t.left_join(inherited, t.ResourceId == inherited.rid)
    owners = {k: [j[f"t_{k}"], j[f"i_{k}"]] for k in keys}
    accounts = rules.config.accounts
    if accounts:
        table = ibis.memtable(
            {
                "acct": list(accounts),
                **{f"a_{k}": [accounts[a].get(k) for a in accounts] for k in keys},
            },
            schema={"acct": "string", **{f"a_{k}": "string" for k in keys}},
        )
        for col in ("SubAccountId", "BillingAccountId"):
            alias = table.rename({f"{col}_{c}": c for c in table.columns})
            j = j.left_join(alias, j[col] == alias[f"{col}_acct"])
            for k in keys:
                owners[k].append(j[f"{col}_a_{k}"])
    lines = j.select(*t.columns, **{f"o_{k}": ibis.coalesce(*v) for k, v in owners.items()})
    return lines


def _portions(warehouse: Warehouse, lines: ir.Table, rules: TagRules) -> ir.Table:
    import ibis

    keys = rules.canonical_keys
    gpu = gpu_portions(warehouse, lines, rules)
    other = lines.filter(~gpu_lines(lines))
    direct = other.select(
        "x_OriginRow",
        bucket=ibis.literal("direct"),
        ratio=ibis.literal(1.0),
        gpu_hours=ibis.null().cast("float64"),
        utilization=ibis.null().cast("float64"),
        **no_workload(rules),
    )
    cols = [*_PORTION, *(f"w_{k}" for k in keys)]
    return gpu.select(*cols).union(direct.select(*cols))


def _matches(rows: ir.Table, rule: SharedRule, owner: ir.Value) -> ir.Value:
    import ibis

    from mlcost.spending import resolve_dimension

    cond = ibis.literal(True)
    for dim, values in rule.match.items():
        cond = cond & resolve_dimension(rows, dim).isin(list(values)).fill_null(False)
    if rule.unowned:
        cond = cond & owner.isnull()
    return cond


def _targets(keep: ir.Table, rules: Sequence[SharedRule]) -> ir.Table | None:
    """(rule, target owner, share) for every rule; shares of one rule sum to 1."""
    import ibis

    pieces = []
    owned = keep.filter(keep.owner.notnull())
    for n, rule in enumerate(rules):
        if rule.method == "fixed":
            weights = {o: w for o, w in rule.weights.items() if w > 0}
            base = ibis.memtable(
                {"owner": list(weights), "weight": list(weights.values())},
                schema={"owner": "string", "weight": "float64"},
            )
        else:
            basis = (
                owned.gpu_hours.fill_null(0.0)
                if rule.basis == "gpu_hours"
                else owned.EffectiveCost.cast("float64") * owned.ratio
            )
            base = owned.mutate(b=basis).group_by("owner").aggregate(weight=ibis._.b.sum())
            base = base.filter(base.weight > 0)
            if rule.method == "even":
                base = base.mutate(weight=ibis.literal(1.0))
            if rule.owners:
                base = base.filter(base.owner.isin(list(rule.owners)))
        total = base.weight.sum().over(ibis.window())
        pieces.append(
            base.select(rule_n=ibis.literal(n), target=base.owner, share=base.weight / total)
        )
    if not pieces:
        return None
    out = pieces[0]
    for p in pieces[1:]:
        out = out.union(p)
    return out


def _with_key(config: AttributionConfig, key: str) -> AttributionConfig:
    """``config`` that knows the owner key ``key`` (added as a required key)."""
    if key in (config.owner, *config.required):
        return config
    return replace(config, required=(*config.required, key))


@contextmanager
def allocation_rows(
    warehouse: Warehouse,
    config: AttributionConfig,
    start: datetime,
    end: datetime,
    *,
    owner_key: str | None = None,
    rules: TagRules | None = None,
) -> Iterator[ir.Table]:
    """The allocated rows of charges starting in ``[start, end)``, as an Ibis table.

    A context manager: the numbered origin charges are cached in the engine while it is open.
    """

    key = owner_key or config.owner
    if key not in (config.owner, *config.required):
        rules = None
    config = _with_key(config, key)
    rules = rules or learn_tag_rules(warehouse, config)
    with ExitStack() as stack:

        def hold(expr: ir.Table) -> ir.Table:
            return stack.enter_context(warehouse.temporary(expr))

        origins = _origins(warehouse, start, end)
        wide = None
        if origins is None:
            # Numbered once, every column: every later reference must see the same numbers.
            lines = hold(_lines(warehouse, rules, start, end))
        else:
            # The engine's row ids: a narrow working set, joined back to the line items by
            # row id only when the allocated rows are written (no full-width copy or sort).
            cols = _working_columns(origins, config.shared)
            narrow = _lines(warehouse, rules, start, end, origins=origins, columns=cols)
            if not config.shared:
                # No rule reads the other lines (their owners, a spread's base): the working
                # set is the GPU lines alone, not the month (50 M line items held here
                # spilled 22 GB to disk).
                narrow = narrow.filter(gpu_lines(narrow))
            lines = hold(narrow)
            # The direct rows (most of a bill) straight from the line items, every column,
            # with their owner tags: read once as the rows are written, joined to nothing
            # larger than the workloads.
            wide = _lines(warehouse, rules, start, end, origins=origins)
        yield _allocated(warehouse, config, rules, lines, key, hold, origins, wide)


def _allocated(
    warehouse: Warehouse,
    config: AttributionConfig,
    rules: TagRules,
    lines: ir.Table,
    key: str,
    hold: Callable[[ir.Table], ir.Table],
    origins: ir.Table | None = None,
    wide: ir.Table | None = None,
) -> ir.Table:
    """The allocated rows (``origins``: where the columns ``lines`` lacks are read from, by
    ``x_OriginRow``; ``wide``: the origins with their owner tags, where the direct rows are
    read from). ``hold`` computes an intermediate result once: engines that inline every
    reference to a subquery (Spark) would otherwise recompute the GPU split for each of the
    several branches below that read it."""
    import ibis

    keys = rules.canonical_keys
    portions = hold(_portions(warehouse, lines, rules))
    j = _owned(portions.inner_join(lines, "x_OriginRow"), config, rules, key)
    shared_rules = config.shared
    null_s = ibis.null().cast("string")
    if shared_rules:
        # Read by each branch below (kept, orphaned, spread, the rules' bases): computed once.
        j = hold(j)
    # else read once (every row is kept): no need to write the month's rows out in between.
    keep = j.filter(j.rule_n.isnull())
    targets = _targets(keep, shared_rules)
    base_cols = [c for c in j.columns if c != "rule_n"]
    rows = keep.select(*base_cols, method=null_s)
    if targets is not None:
        spread = j.filter(j.rule_n.notnull())
        orphan = spread.anti_join(targets, spread.rule_n == targets.rule_n)
        rows = rows.union(orphan.select(*base_cols, method=null_s))
        s = spread.inner_join(targets, spread.rule_n == targets.rule_n)
        names = ibis.cases(
            *[
                (s.rule_n == n, f"mlcost/shared/{rule.name}/{rule.method}")
                for n, rule in enumerate(shared_rules)
            ]
        )
        rows = rows.union(
            s.mutate(
                bucket=ibis.literal("shared"),
                ratio=s.ratio * s.share,
                gpu_hours=s.gpu_hours * s.share,
                owner=s.target,
                workload_type=ibis.literal("shared"),
                **{f"k_{k}": (s.target if k == key else null_s) for k in keys},
            ).select(*base_cols, method=names)
        )
    single = None
    if wide is not None:
        # What _portions and the rules make of a line item that is no GPU line and that no
        # rule with targets spreads: a "direct" row, computed from its own columns.
        d = wide.filter(~gpu_lines(wide)).mutate(
            bucket=ibis.literal("direct"),
            ratio=ibis.literal(1.0),
            gpu_hours=ibis.null().cast("float64"),
            utilization=ibis.null().cast("float64"),
            **no_workload(rules),
        )
        d = _owned(d, config, rules, key)
        if targets is not None:
            d = d.filter(d.rule_n.isnull() | ~d.rule_n.isin(targets.rule_n))
        single = d.mutate(method=null_s)
    return _finish(warehouse, rows, keys, key, origins, single)


def _owned(j: ir.Table, config: AttributionConfig, rules: TagRules, key: str) -> ir.Table:
    """Rows with their owner (``owner``, ``k_<key>``), workload type and the number of the
    first shared rule that matches them (``rule_n``, NULL for none)."""
    import ibis

    owner_cols = {k: ibis.coalesce(j[f"w_{k}"], j[f"o_{k}"]) for k in rules.canonical_keys}
    j = j.mutate(
        owner=owner_cols[key],
        workload_type=workload_type(j, gpu_lines(j), owner_cols),
        **{f"k_{k}": v for k, v in owner_cols.items()},
    )
    rule_n = (
        ibis.cases(
            *[(_matches(j, rule, j.owner), n) for n, rule in enumerate(config.shared)],
            else_=ibis.null().cast("int64"),
        )
        if config.shared
        else ibis.null().cast("int64")
    )
    return j.mutate(rule_n=rule_n)


def _finish(
    warehouse: Warehouse,
    rows: ir.Table,
    keys: Sequence[str],
    key: str,
    origins: ir.Table | None = None,
    direct: ir.Table | None = None,
) -> ir.Table:
    """Telescoped metrics, FOCUS Allocated* columns and our x_ columns (the origin's other
    columns joined from ``origins`` by ``x_OriginRow``; ``direct``: the direct rows with
    every column, else those of ``rows``)."""
    import ibis
    import ibis.expr.datatypes as dt

    # A ``direct`` row is its origin's only row (a line item that is neither a GPU line nor
    # spread by a shared rule): a copy of its origin, metrics as they are, Allocated* columns
    # the origin's own. It goes through neither the windows, which sort every row of the
    # month, nor the split's arithmetic (two decimal products per metric) and the JSON and
    # tag maps a split row gets. Same figures, set-based.
    single = rows.filter(rows.bucket == "direct") if direct is None else direct
    rows = rows.filter(rows.bucket != "direct")
    order = ibis.window(
        group_by="x_OriginRow", order_by=["bucket", "workload_id", "owner", "method"]
    )
    rows = rows.mutate(rn=ibis.row_number().over(order))
    w = ibis.window(group_by="x_OriginRow", order_by="rn")
    rows = rows.mutate(
        cum=rows.ratio.sum().over(ibis.window(group_by="x_OriginRow", order_by="rn", following=0)),
        last=rows.rn.max().over(ibis.window(group_by="x_OriginRow")),
    )
    rows = rows.mutate(cum=ibis.ifelse(rows.rn == rows.last, 1.0, rows.cum))
    rows = rows.mutate(prev=rows.cum.lag(1, 0.0).over(w))
    if origins is not None:
        rest = [c for c in origins.columns if c not in rows.columns]
        back = origins.select("x_OriginRow", *rest)
        if direct is None:
            single = single.inner_join(back, "x_OriginRow")
        rows = rows.inner_join(back, "x_OriginRow")

    def part(metric: ir.Value, c: ir.Value) -> ir.Value:
        # Narrow enough that the product keeps 18 decimals on every engine (Spark cuts a
        # product wider than 38 digits down to 6 decimals): 18 integer digits of money and a
        # ratio below 10.
        return (metric.cast(dt.Decimal(30, 12)) * c.cast(dt.Decimal(13, 12))).round(12)

    is_gpu = rows.bucket.startswith("gpu_")
    method = ibis.coalesce(
        rows.method,
        ibis.cases(
            (rows.bucket.isin(["gpu_used", "gpu_idle"]), "mlcost/gpu-share/utilization"),
            (is_gpu, "mlcost/gpu-share"),
            else_=null_string(),
        ),
    )
    unit = ibis.ifelse(is_gpu, "GPU-Hours", null_string())
    details = (
        ibis.literal('{"Elements":[{"AllocatedRatio":')
        + rows.ratio.round(12).cast("string")
        + ibis.ifelse(
            rows.gpu_hours.notnull() & unit.notnull(),
            ibis.literal(',"UsageUnit":"GPU-Hours","UsageQuantity":')
            + rows.gpu_hours.round(9).cast("string"),
            "",
        )
        + ibis.literal('}],"x_Bucket":"')
        + rows.bucket
        + '"}'
    )
    tag_keys = ibis.array([ibis.ifelse(rows[f"k_{k}"].notnull(), k, null_string()) for k in keys])
    tag_vals = ibis.array([rows[f"k_{k}"] for k in keys])
    tags = ibis.map(
        tag_keys.filter(lambda x: x.notnull()).concat(ibis.array(["workload-type"])),
        tag_vals.filter(lambda x: x.notnull()).concat(ibis.array([rows.workload_type])),
    )
    resource = ibis.coalesce(rows.workload_id, rows.ResourceId)
    is_split = rows.last > 0  # one origin, several allocated rows
    metrics = {
        m: (part(rows[m], rows.cum) - part(rows[m], rows.prev)).cast(dt.Decimal(38, 12))
        for m in SPLIT_METRICS
    }
    built = ibis.literal(datetime.now(UTC).replace(tzinfo=None, microsecond=0))

    def ours(t: ir.Table) -> dict[str, ir.Value]:
        return {
            "x_AllocatedRatio": t.ratio,
            "x_Bucket": t.bucket,
            "x_OwnerKey": ibis.literal(key),
            "x_Owner": t.owner,
            "x_WorkloadId": ibis.coalesce(t.workload_id, t.ResourceId),
            "x_WorkloadType": t.workload_type,
            "x_GpuHours": t.gpu_hours,
            "x_Utilization": t.utilization,
            "x_BuiltAt": built,
        }

    split = rows.mutate(
        **metrics,
        AllocatedMethodId=ibis.ifelse(is_split, method, rows.AllocatedMethodId),
        AllocatedMethodDetails=ibis.ifelse(
            is_split, warehouse.functions.json(details), rows.AllocatedMethodDetails
        ),
        AllocatedResourceId=ibis.ifelse(is_split, resource, rows.AllocatedResourceId),
        AllocatedResourceName=ibis.ifelse(
            is_split, rows.workload_name.fill_null(rows.ResourceName), rows.AllocatedResourceName
        ),
        AllocatedTags=ibis.ifelse(is_split, tags, rows.AllocatedTags),
        **ours(rows),
    )
    # The telescoped value of an origin's only row: the metric itself, typed as above.
    whole = {m: single[m].cast(dt.Decimal(30, 12)).cast(dt.Decimal(38, 12)) for m in SPLIT_METRICS}
    copied = single.mutate(**whole, **ours(single))
    out = [c for c in split.columns if c in copied.columns]
    return copied.select(*out).union(split.select(*out))


def null_string() -> ir.Value:
    import ibis

    return ibis.null().cast("string")


_BUILDS = "allocation_builds"


def _inputs(warehouse: Warehouse, rules: TagRules, key: str, start: datetime, end: datetime) -> str:
    """A digest of everything the allocation of ``[start, end)`` reads.

    The window's line items (their count and the loads that wrote them: a load that adds,
    replaces or deletes rows changes one or the other), every workload (an owner is inherited
    from the workloads of a resource, whenever they ran), the GPU samples from ``start`` to
    the end of the window's last charge period, the resource links, and the configuration
    with the tag rules learned from the data. Aggregates only: no row leaves the engine.
    """
    import hashlib
    import json
    from importlib.metadata import version

    def seen(t: ir.Table, column: str) -> list[object]:
        g = t.aggregate(n=t.count(), ids=t[column].collect(distinct=True), hi=t[column].max())
        row = g.to_pyarrow().to_pylist()[0]
        return [row["n"], sorted(i for i in row["ids"] or [] if i is not None)]

    lines = warehouse.table("cost_line_items")
    lines = lines.filter((lines.ChargePeriodStart >= start) & (lines.ChargePeriodStart < end))
    last = lines.ChargePeriodEnd.max().execute()
    samples = warehouse.table("gpu_samples")
    samples = samples.filter((samples.time >= start) & (samples.time < (last or end)))
    links = warehouse.table("resource_links")
    linked = links.aggregate(
        n=links.count(),
        h=((links.name.hash() % 1_000_003) * 31 + links.billed_resource_id.hash() % 99_991).sum(),
    )
    state = {
        "version": version("mlcost"),
        "key": key,
        "config": repr(rules.config),
        "keys": {k: rules.keys.get(k, ()) for k in rules.canonical_keys},
        "values": {
            k: {v: c for v, c in rules.values.get(k, {}).items() if v != c}
            for k in rules.canonical_keys
        },
        "lines": seen(lines, "x_IngestId"),
        "workloads": seen(warehouse.table("workloads"), "ingest_id"),
        "samples": seen(samples, "ingest_id"),
        "links": linked.to_pyarrow().to_pylist(),
    }
    text = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _last_build(warehouse: Warehouse, start: datetime) -> dict[str, object] | None:
    """The record of the window's last build (None: none, or an engine without the table)."""
    if _BUILDS not in warehouse.tables():
        return None
    b = warehouse.table(_BUILDS)
    rows = b.filter(b.period_start == start).to_pyarrow().to_pylist()
    return rows[0] if rows else None


def allocate(
    warehouse: Warehouse,
    config: AttributionConfig,
    start: datetime,
    end: datetime,
    *,
    owner_key: str | None = None,
    force: bool = False,
) -> Allocation:
    """Rebuild ``allocated_costs`` for charges starting in ``[start, end)``, in one transaction.

    Unless ``force``, a window whose inputs (see :func:`_inputs`) did not change since its
    last build is left as it is (``reused``): no allocation work, the same rows.

    >>> from mlcost import open_warehouse
    >>> from mlcost.config import AttributionConfig
    >>> wh = open_warehouse("duckdb://:memory:")
    >>> allocate(wh, AttributionConfig(), *month_window("2026-10")).rows
    0
    """
    key = owner_key or config.owner
    keep = _BUILDS in warehouse.tables() and not warehouse.read_only
    # The transaction first: the row ids the working set keeps must not move before the
    # allocated rows are written, nor the inputs between their digest and the build.
    with warehouse.transaction():
        digest = None
        if keep:
            rules = learn_tag_rules(warehouse, _with_key(config, key))
            digest = _inputs(warehouse, rules, key, start, end)
            last = _last_build(warehouse, start)
            now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
            if not force and last is not None and last["inputs"] == digest:
                warehouse.update_where(_BUILDS, {"checked_at": now}, {"period_start": start})
                n = int(last["row_count"])  # type: ignore[call-overload]
                return Allocation(start=start, end=end, owner_key=key, rows=n, reused=True)
        with allocation_rows(warehouse, config, start, end, owner_key=owner_key) as expr:
            n = warehouse.replace_window(
                "allocated_costs", expr, column="ChargePeriodStart", start=start, end=end
            )
        if digest is not None:
            record = {
                "period_start": start,
                "owner_key": key,
                "inputs": digest,
                "row_count": n,
                "built_at": now,
                "checked_at": now,
            }
            warehouse.upsert(_BUILDS, [record], key=["period_start"], update=list(record)[1:])
    return Allocation(start=start, end=end, owner_key=key, rows=n)
