"""Which violations a policy may act on: environment, owner, resource type, working hours.

A resource's facts come from its newest billed line item (tags, ``x_InstanceType``,
``ResourceType``) and, for a workload, from the workload's own record (its tags win, its
kind is its type). Production (an env tag value in the policy's ``production``, by default
``env``/``environment`` = ``prod``/``production``) is out of every policy (idle shutdown
first) unless the policy names it in ``environments``: a GPU cap or a missing tag is a
reason to tell the owner of a production endpoint, not to stop it. Working hours are the
owner's (``[owners.<name>]``) where the owner sets them, else the policy's; the time zone
likewise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

from mlcost.config import OwnerConfig, PolicyConfig

if TYPE_CHECKING:
    from mlcost.policies._enforce import Violation
    from mlcost.warehouse import Warehouse

__all__ = ["Facts", "environment", "facts", "in_scope"]


@dataclass(frozen=True)
class Facts:
    """What the warehouse says about a resource: its tags and its types."""

    tags: Mapping[str, str] = field(default_factory=dict)
    types: tuple[str, ...] = ()


def _pairs(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    items = value.items() if isinstance(value, Mapping) else value
    return {str(k): str(v) for k, v in items if v is not None}


def facts(wh: Warehouse, violations: Sequence[Violation]) -> dict[str, Facts]:
    """Facts per violation target (the workload, else the resource)."""
    from mlcost.warehouse import fetch_rows

    ids = sorted({v.resource_id for v in violations})
    billed: dict[str, Facts] = {}
    if ids:
        t = wh.table("cost_line_items")
        t = t.filter(t.ResourceId.isin(ids))
        cols = {"tags": t.Tags.argmax(t.ChargePeriodStart), "rtype": t.ResourceType.max()}
        if "x_InstanceType" in t.columns:
            cols["itype"] = t.x_InstanceType.max()
        for r in fetch_rows(t.group_by("ResourceId").aggregate(**cols)):
            types = tuple(x for x in (r.get("itype"), r.get("rtype")) if x)
            billed[r["ResourceId"]] = Facts(_pairs(r["tags"]), types)
    wids = sorted({v.workload_id for v in violations if v.workload_id})
    ran: dict[str, dict[str, Any]] = {}
    if wids:
        w = wh.table("workloads")
        w = w.filter(w.workload_id.isin(wids)).select("workload_id", "kind", "tags")
        ran = {r["workload_id"]: r for r in fetch_rows(w)}
    out = {}
    for v in violations:
        base = billed.get(v.resource_id, Facts())
        job = ran.get(v.workload_id or "")
        if job is not None:
            kind = (job["kind"],) if job["kind"] else ()
            base = Facts({**base.tags, **_pairs(job["tags"])}, kind + base.types)
        out[v.target] = base
    return out


def environment(policy: PolicyConfig, found: Facts) -> str | None:
    """The resource's env tag value (lowercase), by the policy's ``env_tags``; any key case."""
    lowered = {k.lower(): v for k, v in found.tags.items()}
    for key in policy.env_tags:
        if key.lower() in lowered:
            return lowered[key.lower()].strip().lower()
    return None


def in_scope(
    v: Violation,
    policy: PolicyConfig,
    found: Facts,
    owners: Mapping[str, OwnerConfig],
) -> bool:
    """Whether ``policy`` applies to the violating resource (see the module)."""
    env = environment(policy, found)
    named = {e.lower() for e in policy.environments}
    if named and env not in named:
        return False
    if env in policy.production and env not in named:
        return False  # production only where a policy names it (issue 21)
    if policy.owners and v.owner not in policy.owners:
        return False
    if policy.resource_types and not any(
        fnmatch(t, pattern) for t in found.types for pattern in policy.resource_types
    ):
        return False
    return not (policy.working_hours and v.at is not None and _working(v, policy, owners))


def _working(v: Violation, policy: PolicyConfig, owners: Mapping[str, OwnerConfig]) -> bool:
    """Whether the violation's moment is inside working hours (the owner's, else the
    policy's) in the owner's time zone, else the policy's."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    assert v.at is not None
    own = owners.get(v.owner or "")
    spans = (own.working_hours if own else ()) or policy.working_hours
    zone = (own.timezone if own else "") or policy.timezone
    local = v.at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return any(local in span for span in spans)
