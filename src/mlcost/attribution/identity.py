"""One resource identity: what a billed resource is called in the bill and by every source.

For every billed resource (a ``ResourceId`` of ``cost_line_items``): its provider, account,
region, the FOCUS ``ResourceId``, the short id (the instance id or VM name out of an ARN or
Azure id), ``ResourceName``, and every name telemetry and workload sources know it by (host
name, node, pod, Slurm node, tracker host: the ``resource_links`` view).

:func:`identify` turns any of those names into the :class:`Identity`; findings, policy
decisions and alerts name a billed resource by :attr:`Identity.resource_id` (what an executor
acts on) and show :attr:`Identity.name` (readable). A name that links to nothing is not a
billed resource; ``mlcost sources --unmatched`` lists those.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.config import AttributionConfig
    from mlcost.warehouse import Warehouse

__all__ = ["Identity", "identify", "named", "resources", "short_id"]

_TAIL = r"[^/:]+$"


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

    @property
    def name(self) -> str:
        """Readable: ResourceName, else the name a source knows it by, else the short id."""
        return self.resource_name or (self.names[0] if self.names else self.short_id)


def resources(wh: Warehouse) -> ir.Table:
    """One row per billed resource: ``resource_id``, ``short_id``, ``resource_name``,
    ``provider``, ``account``, ``region`` and ``names`` (linked source names, sorted)."""
    import ibis

    t = wh.table("cost_line_items")
    t = t.filter(t.ResourceId.notnull())
    billed = t.group_by(resource_id=t.ResourceId).aggregate(
        resource_name=t.ResourceName.max(),
        provider=t.ServiceProviderName.max(),
        account=ibis.coalesce(t.SubAccountId, t.BillingAccountId).max(),
        region=t.RegionId.max(),
    )
    links = wh.table("resource_links")
    links = links.filter(links.name != links.billed_resource_id)
    names = links.group_by(rid=links.billed_resource_id).aggregate(
        names=links.name.collect(order_by=links.name)
    )
    j = billed.left_join(names, billed.resource_id == names.rid)
    return j.select(
        "resource_id",
        short_id=j.resource_id.re_extract(_TAIL, 0),
        resource_name=j.resource_name,
        provider=j.provider,
        account=j.account,
        region=j.region,
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
    (``model_owner``: over the item's; else only where the item has none). An item about
    nothing billed keeps its id, and ``resource_name`` is that id."""
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
        out.append(replace(item, resource_id=who.resource_id, resource_name=who.name, owner=owner))
    return out
