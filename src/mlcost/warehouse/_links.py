"""The linking views as Ibis expressions: telemetry and workload names → billed resources.

DuckDB keeps them as SQL views (migration 3), so a user's own SQL can read them; engines
without those views (Spark) get these expressions from :meth:`Warehouse.table` under the
same names. ``tests/sources/test_demo_linking.py`` checks that both give the same rows.

- ``billed_resources``: one row per billed ``ResourceId`` with its name, provider, instance
  type, GPU model and count (the largest value where line items differ, so every engine
  picks the same one);
- ``resource_keys``: the keys a host or workload may call a resource by: the ResourceId,
  its last path segment (instance id, VM name) and its ResourceName, lower-cased;
- ``observed_resources``: what ``gpu_samples``, ``workloads`` and ``served_tokens`` (its
  endpoints) name, and how many rows;
- ``resource_links``: each observed name resolved by the best rule: exact id, instance id,
  resource name, then the first DNS label of a host name (``gpu-7.cluster.local`` → ``gpu-7``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

Tables = Callable[[str], "ir.Table"]

VIEWS = ("billed_resources", "resource_keys", "observed_resources", "resource_links")
_TAIL = r"[^/:]+$"  # the last path segment of an ARN / Azure id / GCP self link


def billed_resources(table: Tables) -> ir.Table:
    t = table("cost_line_items")
    t = t.filter(t.ResourceId.notnull())
    return t.group_by(billed_resource_id=t.ResourceId).aggregate(
        resource_name=t.ResourceName.max(),
        provider=t.ServiceProviderName.max(),
        instance_type=t.x_InstanceType.max(),
        gpu_model=t.x_GpuModel.max(),
        gpu_count=t.x_GpuCount.max(),
    )


def resource_keys(table: Tables) -> ir.Table:
    import ibis

    b = billed_resources(table)
    rid = b.billed_resource_id

    def rule(key: ir.Value, name: str, priority: int, rows: ir.Table = b) -> ir.Table:
        return rows.select(
            key=key.lower(),
            billed_resource_id=rows.billed_resource_id,
            rule=ibis.literal(name),
            priority=ibis.literal(priority, type="int32"),
        )

    named = b.filter(b.resource_name.notnull())
    return (
        rule(rid, "resource_id", 1)
        .union(rule(rid.re_extract(_TAIL, 0), "instance_id", 2))
        .union(rule(named.resource_name, "resource_name", 3, named))
    )


def observed_resources(table: Tables) -> ir.Table:
    import ibis

    s = table("gpu_samples")
    w = table("workloads")
    e = table("served_tokens")
    # Cast: DuckDB's resource_id is NOT NULL, and a union wants the same types on both sides.
    samples = s.group_by(name=s.resource_id.cast("string")).aggregate(rows=s.count())
    workloads = w.group_by(name=w.resource_id.fill_null(w.node)).aggregate(rows=w.count())
    served = e.group_by(name=e.endpoint.cast("string")).aggregate(rows=e.count())
    return (
        samples.select(table=ibis.literal("gpu_samples"), name="name", rows="rows")
        .union(workloads.select(table=ibis.literal("workloads"), name="name", rows="rows"))
        .union(served.select(table=ibis.literal("served_tokens"), name="name", rows="rows"))
    )


def resource_links(table: Tables) -> ir.Table:
    """Three equality joins (not one join on OR), so every engine can hash them."""
    o = observed_resources(table)
    return link_names(o.filter(o.name.notnull()).select("name").distinct(), table)


def link_names(names: ir.Table, table: Tables) -> ir.Table:
    """Each ``name`` of ``names`` (distinct, not null) resolved to a billed resource by the
    rules of ``resource_links``: a name no link view lists (a served endpoint) links alike."""
    import ibis

    k = resource_keys(table)
    spellings = (
        names.name.lower(),
        names.name.re_extract(_TAIL, 0).lower(),
        names.name.re_extract(r"^[^.]*", 0).lower(),  # the first DNS label
    )
    matches = None
    for spelled in spellings:
        keyed = names.select("name", key=spelled)
        j = keyed.inner_join(k, "key").select("name", "billed_resource_id", "rule", "priority")
        matches = j if matches is None else matches.union(j)
    assert matches is not None
    pick = ibis.row_number().over(group_by="name", order_by=["priority", "billed_resource_id"])
    best = matches.mutate(pick=pick)
    return best.filter(best.pick == 0).select("name", "billed_resource_id", "rule")


BUILDERS: dict[str, Callable[[Tables], ir.Table]] = {
    "billed_resources": billed_resources,
    "resource_keys": resource_keys,
    "observed_resources": observed_resources,
    "resource_links": resource_links,
}
