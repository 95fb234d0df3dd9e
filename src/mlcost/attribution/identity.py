"""One resource identity: what a billed resource is called in the bill and by every source.

For every billed resource (a ``ResourceId`` of ``cost_line_items``): its provider, account,
region, the FOCUS ``ResourceId``, the short id (the instance id or VM name out of an ARN or
Azure id), ``ResourceName``, and every name telemetry and workload sources know it by (host
name, node, pod, Slurm node, tracker host: the ``resource_links`` view).

:func:`identify` turns any of those names into the :class:`Identity`; findings, policy
decisions and alerts name a billed resource by :attr:`Identity.resource_id` (what an executor
acts on) and show :attr:`Identity.name` (readable). A name that links to nothing is not a
billed resource; ``mlcost sources --unmatched`` lists those.

What a resource *is* (:func:`resource_type`: ``ec2-instance``, ``sagemaker-endpoint``,
``k8s-deployment``, ``slurm-job``, ``local-process``, …) is read from its id, its service and
the bill's FOCUS ``ResourceType``; guardrails choose the executor by it. A workload (a Slurm
job, an OpenCost pod, a recorded process) has an identity too (:func:`workload_identity`),
with the provider, account and region of the billed resource it runs on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.config import AttributionConfig
    from mlcost.warehouse import Warehouse

__all__ = [
    "RESOURCE_TYPES",
    "Identity",
    "identify",
    "named",
    "resource_type",
    "resources",
    "short_id",
    "workload_identity",
]

_TAIL = r"[^/:]+$"

# What a resource is, in the words executors are chosen by.
RESOURCE_TYPES = (
    "ec2-instance",
    "sagemaker-endpoint",
    "sagemaker-notebook",
    "k8s-deployment",
    "k8s-pod",
    "slurm-job",
    "local-process",
)
# An id's own shape says what it is; the first pattern that matches the whole id wins.
_ID_TYPES = (
    (r"arn:aws[\w-]*:ec2:[\w-]*:\d*:instance/i-[0-9a-f]{8,17}", "ec2-instance"),
    (r"i-[0-9a-f]{8,17}", "ec2-instance"),  # CUR's lineItem/ResourceId: the bare instance id
    (r"arn:aws[\w-]*:sagemaker:[\w-]+:\d{12}:endpoint/[A-Za-z0-9-]+", "sagemaker-endpoint"),
    (
        r"arn:aws[\w-]*:sagemaker:[\w-]+:\d{12}:notebook-instance/[A-Za-z0-9-]+",
        "sagemaker-notebook",
    ),
    (r"arn:aws[\w-]*:sagemaker:[\w-]+:\d{12}:training-job/[A-Za-z0-9-]+", "sagemaker-training"),
    (r"k8s:[a-z0-9-]+/deployment/[a-z0-9.-]+", "k8s-deployment"),
    (r"k8s:[a-z0-9-]+/pod/[a-z0-9.-]+", "k8s-pod"),
    (r".*/namespaces/[a-z0-9-]+/deployments/[a-z0-9.-]+", "k8s-deployment"),
    (r".*/namespaces/[a-z0-9-]+/pods/[a-z0-9.-]+", "k8s-pod"),
    (r"slurm:(?:[\w.-]+:)?\d+(?:_\d+)?", "slurm-job"),
    (r"(?:local|pid):[1-9]\d*", "local-process"),  # only exactly so: never slurm:local:1
    (r"tracker:.+", "tracker-run"),
)


def short_id(resource_id: str) -> str:
    """The last path segment of an ARN, Azure id or GCP self link (``i-0abc…``, a VM name).

    >>> short_id("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc12345678def00")
    'i-0abc12345678def00'
    """
    import re

    match = re.search(_TAIL, resource_id)
    return match.group(0) if match else resource_id


@dataclass(frozen=True)
class Identity:
    """A billed resource and the names it goes by."""

    resource_id: str  # the FOCUS ResourceId, as billed
    short_id: str
    resource_name: str | None  # ResourceName, as billed
    provider: str | None
    account: str | None  # SubAccountId, else BillingAccountId
    region: str | None
    names: tuple[str, ...] = ()  # what telemetry and workloads call it
    service: str | None = None  # ServiceName, as billed
    resource_type: str | None = None  # what it is (resource_type()); None: not known
    cluster: str | None = None  # a workload's Kubernetes cluster (OpenCost's name for it)

    @property
    def name(self) -> str:
        """Readable: ResourceName, else the name a source knows it by, else the short id."""
        return self.resource_name or (self.names[0] if self.names else self.short_id)


def resource_type(
    resource_id: str, *, service: str | None = None, billed_type: str | None = None
) -> str | None:
    """What the resource is, from its id's shape, else the bill's ``ResourceType``.

    ``service`` (ServiceName) tells a bare EC2 id from another provider's; ``billed_type`` is
    FOCUS ``ResourceType`` (``EC2 Instance``, ``Virtual Machine``), kebab-cased when the id
    says nothing. None: nothing says.

    >>> resource_type("arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc12345678def00")
    'ec2-instance'
    >>> resource_type("slurm:local:1"), resource_type("local:1")
    ('slurm-job', 'local-process')
    >>> resource_type("/subscriptions/s/providers/Microsoft.Compute/virtualMachines/a",
    ...               billed_type="Virtual Machine")
    'virtual-machine'
    """
    import re

    text = resource_id.strip()
    for pattern, kind in _ID_TYPES:
        if re.fullmatch(pattern, text):
            if kind == "ec2-instance" and service and not text.startswith("arn:"):
                # A bare i-… billed by another service (a GCP VM could be named so).
                return kind if "compute cloud" in service.lower() else None
            return kind
    if billed_type and billed_type.strip():
        return re.sub(r"[^a-z0-9]+", "-", billed_type.strip().lower()).strip("-")
    return None


def workload_identity(
    workload_id: str,
    *,
    tags: dict[str, str] | None = None,
    host: Identity | None = None,
    cluster: str | None = None,
) -> Identity:
    """The identity of a workload: what an executor acts on, with the provider, account and
    region of ``host`` (the billed resource it runs on), where known.

    An OpenCost pod (``opencost:<cluster>/<ns>/<pod>/<container>``) is named by what owns it
    (its ``controllerKind`` / ``controller`` / ``namespace`` labels): a deployment's pod
    becomes ``k8s:<ns>/deployment/<controller>`` (deleting the pod alone brings it back), a
    bare pod ``k8s:<ns>/pod/<pod>``. Other workload ids (``slurm:…``, ``local:<pid>``) are
    their own target. ``cluster``: the workload's cluster (the executor picks its context).

    >>> workload_identity("opencost:c1/ml/ranker-7d9-x2/main",
    ...     tags={"namespace": "ml", "controllerKind": "deployment", "controller": "ranker"}
    ... ).resource_id
    'k8s:ml/deployment/ranker'
    """
    tags = tags or {}
    target, kind = workload_id, ""
    if workload_id.startswith("opencost:"):
        parts = workload_id.removeprefix("opencost:").split("/")
        ns = tags.get("namespace") or (parts[-3] if len(parts) >= 3 else "")
        kind, owner = tags.get("controllerKind", "").lower(), tags.get("controller")
        pod = parts[-2] if len(parts) >= 3 else parts[-1]
        if ns and kind == "deployment" and owner:
            target = f"k8s:{ns}/deployment/{owner}"
        elif ns and not kind and pod:
            target = f"k8s:{ns}/pod/{pod}"
        # Owned by a statefulset, a job, a daemonset: no executor acts on those (yet).
    return Identity(
        resource_id=target,
        short_id=short_id(target),
        resource_name=workload_id,
        provider=host.provider if host else None,
        account=host.account if host else None,
        region=host.region if host else None,
        names=(workload_id,) if target != workload_id else (),
        service=host.service if host else None,
        cluster=cluster,
        # An OpenCost pod no executor acts on is still named for what owns it.
        resource_type=resource_type(target)
        or (f"k8s-{kind or 'pod'}" if workload_id.startswith("opencost:") else None),
    )


def resources(wh: Warehouse) -> ir.Table:
    """One row per billed resource: ``resource_id``, ``short_id``, ``resource_name``,
    ``provider``, ``account``, ``region``, ``service``, ``billed_type`` (FOCUS
    ResourceType) and ``names`` (linked source names, sorted)."""
    import ibis

    t = wh.table("cost_line_items")
    t = t.filter(t.ResourceId.notnull())
    billed = t.group_by(resource_id=t.ResourceId).aggregate(
        resource_name=t.ResourceName.max(),
        provider=t.ServiceProviderName.max(),
        account=ibis.coalesce(t.SubAccountId, t.BillingAccountId).max(),
        region=t.RegionId.max(),
        service=t.ServiceName.max(),
        billed_type=t.ResourceType.max(),
    )
    links = wh.table("resource_links")
    links = links.filter(links.name != links.billed_resource_id)
    names = links.group_by(rid=links.billed_resource_id).aggregate(
        # Sorted after collecting: PySpark cannot order an aggregation (Ibis 12).
        names=links.name.collect().sort()
    )
    j = billed.left_join(names, billed.resource_id == names.rid)
    return j.select(
        "resource_id",
        short_id=j.resource_id.re_extract(_TAIL, 0),
        resource_name=j.resource_name,
        provider=j.provider,
        account=j.account,
        region=j.region,
        service=j.service,
        billed_type=j.billed_type,
        names=j.names,
    )


def identify(wh: Warehouse, names: Iterable[str | None]) -> dict[str, Identity]:
    """The billed identity of each name that is one: a ResourceId, a short id, a
    ResourceName (case-insensitive) or a name a source linked to a billed resource."""
    import ibis

    wanted = sorted({n for n in names if n})
    if not wanted:
        return {}
    keys = wh.table("resource_keys")
    links = wh.table("resource_links")
    lowered = [n.lower() for n in wanted]
    by_key = keys.filter(keys.key.isin(lowered)).select(
        name=keys.key, rid=keys.billed_resource_id, priority=keys.priority
    )
    by_link = links.filter(links.name.isin(wanted)).select(
        name=links.name, rid=links.billed_resource_id, priority=ibis.literal(0, type="int32")
    )
    matched: dict[str, tuple[int, str]] = {}
    for r in by_link.union(by_key).to_pyarrow().to_pylist():
        best = matched.get(r["name"])
        if best is None or (r["priority"], r["rid"]) < best:
            matched[r["name"]] = (r["priority"], r["rid"])
    ids = sorted({rid for _, rid in matched.values()})
    if not ids:
        return {}
    res = resources(wh)
    found = {
        r["resource_id"]: Identity(
            resource_id=r["resource_id"],
            short_id=r["short_id"] or r["resource_id"],
            resource_name=r["resource_name"],
            provider=r["provider"],
            account=r["account"],
            region=r["region"],
            names=tuple(r["names"] or ()),
            service=r["service"],
            resource_type=resource_type(
                r["resource_id"], service=r["service"], billed_type=r["billed_type"]
            ),
        )
        for r in res.filter(res.resource_id.isin(ids)).to_pyarrow().to_pylist()
    }
    out = {}
    for n in wanted:
        hit = matched.get(n) or matched.get(n.lower())
        if hit is not None and hit[1] in found:
            out[n] = found[hit[1]]
    return out


class _Named(Protocol):
    """A dataclass that names a resource: a finding, a policy violation."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def resource_id(self) -> str | None: ...

    @property
    def resource_name(self) -> str | None: ...

    @property
    def owner(self) -> str | None: ...


_T = TypeVar("_T", bound=_Named)


def named(
    wh: Warehouse,
    config: AttributionConfig,
    items: Sequence[_T],
    names: Sequence[str | None] | None = None,
    *,
    model_owner: bool = True,
) -> list[_T]:
    """``items`` named by their billed resource: ``resource_id`` the billed ResourceId of
    ``names[i]`` (default: the item's own ``resource_id``; a host name or short id becomes the
    ResourceId), ``resource_name`` readable, ``owner`` the owner model's owner of the resource
    (``model_owner``: over the item's; else only where the item has none); an item with
    fields ``provider``, ``account``, ``region``, ``resource_type`` gets the billed ones. An
    item about nothing billed keeps its id, and ``resource_name`` is that id."""
    from dataclasses import replace

    from mlcost.attribution.model import resource_owners

    looked = [i.resource_id for i in items] if names is None else list(names)
    ids = identify(wh, looked)
    owners = resource_owners(wh, config, sorted({i.resource_id for i in ids.values()}))
    out = []
    for item, name in zip(items, looked, strict=True):
        who = ids.get(name or "")
        if who is None:
            out.append(replace(item, resource_name=item.resource_name or item.resource_id))
            continue
        found = owners.get(who.resource_id)
        owner = (found or item.owner) if model_owner else (item.owner or found)
        where = {k: getattr(who, k) for k in _WHERE if k in item.__dataclass_fields__}
        out.append(
            replace(item, resource_id=who.resource_id, resource_name=who.name, owner=owner, **where)
        )
    return out


# What an executor needs besides the id, copied onto items that have these fields.
_WHERE = ("provider", "account", "region", "resource_type")
