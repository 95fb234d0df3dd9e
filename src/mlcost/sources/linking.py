"""Which billed resource each telemetry host and workload ran on, and what did not resolve.

The warehouse views (migration 3) do the matching on read, so a bill loaded after its
telemetry links it without rewriting samples. A name observed in ``gpu_samples.resource_id``
or ``workloads.resource_id`` (else ``workloads.node``) resolves to the first rule that hits,
compared case-insensitively against every distinct billed ``ResourceId``:

1. ``resource_id``: the name is the billed ResourceId (an ARN, an Azure or GCP resource path);
2. ``instance_id``: the last ``/`` or ``:`` segment of either side is equal (``i-0abc`` in
   ``arn:aws:ec2:…:instance/i-0abc``; ``aws:///us-east-1b/i-0abc`` from Kubernetes'
   providerID; a GCP or Azure VM name at the end of its path);
3. ``resource_name``: the name is the bill's ResourceName (the host name providers print);
4. the first DNS label of a host name (``gpu-7.cluster.local`` → ``gpu-7``) matches 2 or 3.

Ties go to the lexically first ResourceId. Names that resolve to nothing are counted by
:func:`unmatched` (``mlcost sources --unmatched``), never dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse


def unmatched(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Observed names with no billed resource: table, name, rows naming it; most rows first."""
    observed = warehouse.table("observed_resources")
    links = warehouse.table("resource_links")
    joined = observed.left_join(links, observed.name == links.name)
    missing = joined.filter(joined.billed_resource_id.isnull()).select(
        table=observed["table"], name=observed.name, rows=observed.rows
    )
    rows = missing.order_by([missing.rows.desc(), missing.name]).to_pyarrow().to_pylist()
    return [{"table": r["table"], "name": r["name"] or "(none)", "rows": r["rows"]} for r in rows]


def link_summary(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Per table: names observed, names matched, rows matched and unmatched."""
    observed = warehouse.table("observed_resources")
    links = warehouse.table("resource_links")
    joined = observed.left_join(links, observed.name == links.name)
    hit = joined.billed_resource_id.notnull()
    summary = joined.group_by(table=observed["table"]).aggregate(
        names=observed.name.count(),
        matched_names=hit.sum(),
        matched_rows=(observed.rows * hit.cast("int64")).sum(),
        unmatched_rows=(observed.rows * (~hit).cast("int64")).sum(),
    )
    rows: list[dict[str, Any]] = summary.order_by("table").to_pyarrow().to_pylist()
    return rows


def billed_gpu_resources(warehouse: Warehouse) -> list[str]:
    """Billed GPU hosts: ResourceIds of usage rows with GPUs (x_GpuCount > 0), sorted.

    A reservation's unused hours name its instance type but are no host, so rows with
    CommitmentDiscountStatus 'Unused' do not count.
    """
    t = warehouse.table("cost_line_items")
    hosts = t.filter(
        (t.ChargeCategory == "Usage")
        & (t.x_GpuCount > 0)
        & t.ResourceId.notnull()
        & (t.CommitmentDiscountStatus.isnull() | (t.CommitmentDiscountStatus != "Unused"))
    )
    ids = hosts.select("ResourceId").distinct().order_by("ResourceId")
    return [r["ResourceId"] for r in ids.to_pyarrow().to_pylist()]
