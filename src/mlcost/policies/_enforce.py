"""Guardrail policies: find the violations of each policy kind, in the policy's scope, named
by their billed resource. Deciding and acting on them: ``_flow.py``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlcost.config import AttributionConfig, BudgetConfig, OwnerConfig, PolicyConfig
from mlcost.errors import ConfigError
from mlcost.policies.executors import AUTO, EXECUTOR_BY_TYPE

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.attribution.identity import Identity
    from mlcost.policies._scope import Facts
    from mlcost.warehouse import Warehouse

__all__ = ["Violation", "check", "found"]


@dataclass(frozen=True)
class Violation:
    """A resource that breaks a policy, and the action the policy would take.

    ``resource_id`` is the billed ResourceId when the resource is billed (what an executor
    acts on), else the name the source gave (a host nothing links to, a ``slurm:<job>``);
    ``resource_name`` is readable; ``workload_id`` is set for a workload (a job, a process),
    with the billed resource it runs on as ``resource_id`` where known (then ``target`` is the
    workload, what the executor acts on); ``owner`` is attribution's owner. ``at`` is the
    moment judged (the evaluation time, or the latest data's), ``last_seen`` the resource's
    newest sample behind an idle violation.
    ``provider``, ``account``, ``region`` (of the billed resource, where one links) and
    ``resource_type`` (what the target is: ``ec2-instance``, ``slurm-job``, …) choose the
    executor; ``act_on`` is the id it acts on where that is not the target (an OpenCost
    pod's deployment, ``k8s:<ns>/deployment/<name>``, in ``cluster``)."""

    policy: str
    resource_id: str
    action: str
    executor: str
    reason: str
    resource_name: str | None = None
    workload_id: str | None = None
    owner: str | None = None
    at: datetime | None = None
    last_seen: datetime | None = None
    provider: str | None = None
    account: str | None = None
    region: str | None = None
    resource_type: str | None = None
    act_on: str | None = None
    cluster: str | None = None  # a Kubernetes workload's cluster

    @classmethod
    def of(
        cls, policy: PolicyConfig, resource_id: object, reason: str, at: datetime | None = None
    ) -> Violation:
        """The violation of ``policy`` by one resource, with the action the policy names."""
        return cls(policy.name, str(resource_id), policy.action, policy.executor, reason, at=at)

    @property
    def target(self) -> str:
        """What the executor is handed: the workload, else the resource."""
        return self.workload_id or self.resource_id

    def identity(self) -> Identity:
        """The target's identity, as :func:`~mlcost.policies.executors.executor_for` reads it."""
        from mlcost.attribution.identity import Identity, short_id

        rid = self.act_on or self.target
        return Identity(
            resource_id=rid,
            short_id=short_id(rid),
            resource_name=self.resource_name,
            provider=self.provider,
            account=self.account,
            region=self.region,
            resource_type=self.resource_type,
            cluster=self.cluster,
        )


def _idle(
    wh: Warehouse,
    policy: PolicyConfig,
    now: datetime | None,
    budgets: Sequence[BudgetConfig],
    attribution: AttributionConfig,
) -> list[Violation]:
    s = wh.table("gpu_samples")
    if now is None:
        latest = s.time.max().execute()
        if latest is None or latest != latest:  # no samples (Spark answers NaT, not None)
            return []
        now = latest
    # Working hours (the owner's or the policy's) are a scope: _scope.py.
    start = now - timedelta(minutes=policy.minutes)
    window = s.filter((s.time >= start) & (s.time <= now))
    util = window.utilization_max.fill_null(window.utilization)
    per = window.group_by(window.resource_id).aggregate(
        first=window.time.min(),
        last=window.time.max(),
        peak=util.max(),
        mean=window.utilization.mean(),
        step=window.resolution_s.max(),
    )
    out = []
    for r in per.to_pyarrow().to_pylist():
        # Idle only if the samples reach back over the whole window, not since a late start.
        covered = r["first"] <= start + timedelta(seconds=int(r["step"] or 0))
        if covered and r["peak"] is not None and r["peak"] <= policy.max_utilization:
            v = Violation.of(
                policy,
                r["resource_id"],
                (
                    f"GPU utilization at most {r['peak']:.1%} (mean {r['mean']:.1%}) for "
                    f"{policy.minutes} min up to {now:%Y-%m-%d %H:%M} UTC; the policy "
                    f"allows {policy.max_utilization:.0%}"
                ),
                now,
            )
            out.append(replace(v, last_seen=r["last"]))
    return sorted(out, key=lambda v: v.resource_id)


def _budget(
    wh: Warehouse,
    policy: PolicyConfig,
    now: datetime | None,
    budgets: Sequence[BudgetConfig],
    attribution: AttributionConfig,
) -> list[Violation]:
    from mlcost.budgets import budget_status
    from mlcost.spending import resolve_dimension

    found = {b.name: b for b in budgets}
    if policy.budget not in found:
        raise ConfigError(
            f"policy {policy.name!r} names budget {policy.budget!r}; configured: "
            f"{', '.join(sorted(found)) or 'none'}. Add [budgets.{policy.budget}] to mlcost.toml."
        )
    budget = found[policy.budget]
    status = budget_status(wh, budget, as_of=now, attribution=attribution)
    if status.spent < budget.amount:
        return []
    # The scope's GPU resources in non-production envs billed on the evaluation day.
    t = wh.table("cost_line_items")
    day = datetime.combine(status.period_start, datetime.min.time())
    last = t.filter(t.ChargePeriodStart >= day).ChargePeriodStart.max().execute()
    if last is None:
        return []
    since = datetime.combine(last.date(), datetime.min.time())
    if "owner" in budget.scope:
        from mlcost.attribution.model import line_owners

        t = line_owners(wh, attribution, since, last + timedelta(seconds=1))
        t = t.filter(t.owner.isin(list(budget.scope["owner"])))
    t = t.filter((t.ChargePeriodStart >= since) & (t.x_GpuCount > 0) & t.ResourceId.notnull())
    for dim, values in budget.scope.items():
        if dim != "owner":
            t = t.filter(resolve_dimension(t, dim).isin(list(values)))
    env = resolve_dimension(t, "tag:env|Env|environment")
    t = t.filter(env.isin(list(policy.envs)))
    ids = sorted(set(t.ResourceId.to_pyarrow().to_pylist()))
    why = (
        f"budget {budget.name!r} spent {status.spent:,.2f} of {budget.amount:,.2f} "
        f"{budget.currency} (100% reached); resource in env {'/'.join(policy.envs)}"
    )
    return [Violation.of(policy, r, why, last) for r in ids]


def _gpu_line_items(wh: Warehouse, now: datetime | None) -> tuple[ir.Table, datetime | None]:
    """Billed GPU resources' line items up to ``now``, and their latest charge hour."""
    t = wh.table("cost_line_items")
    t = t.filter((t.x_GpuCount > 0) & t.ResourceId.notnull())
    if now is not None:
        t = t.filter(t.ChargePeriodStart <= now)
    last: datetime | None = t.ChargePeriodStart.max().execute()
    return t, last


def _required_tags(
    wh: Warehouse,
    policy: PolicyConfig,
    now: datetime | None,
    budgets: Sequence[BudgetConfig],
    attribution: AttributionConfig,
) -> list[Violation]:
    from mlcost.attribution.model import line_owners

    t, last = _gpu_line_items(wh, now)
    if last is None:
        return []
    today = datetime.combine(last.date(), datetime.min.time())
    first_seen = t.group_by(rid=t.ResourceId).aggregate(first=t.ChargePeriodStart.min())
    # Today's line items with their own tags normalized (key aliases: Team=, team_name=).
    lines = line_owners(wh, attribution, today, last + timedelta(seconds=1), keys=policy.tags)
    lines = lines.filter((lines.x_GpuCount > 0) & lines.ResourceId.notnull())
    own = {k: lines[f"t_{_key(k, attribution)}"] for k in policy.tags}
    m = lines.mutate(**{f"m_{i}": v.isnull() for i, v in enumerate(own.values())})
    per = m.group_by(m.ResourceId).aggregate(
        owner=m.owner.max(),
        **{f"m_{i}": m[f"m_{i}"].all() for i in range(len(own))},
    )
    per = per.join(first_seen, per.ResourceId == first_seen.rid)
    out = []
    for r in per.to_pyarrow().to_pylist():
        lacks = [k for i, k in enumerate(policy.tags) if r[f"m_{i}"]]
        old = r["first"] <= last - timedelta(hours=policy.hours)
        if lacks and old:
            v = Violation.of(
                policy,
                r["ResourceId"],
                f"GPU resource without tag(s) {', '.join(lacks)} since "
                f"{r['first']:%Y-%m-%d %H:%M} UTC (more than {policy.hours} h)",
                last,
            )
            out.append(replace(v, owner=r["owner"]))
    return sorted(out, key=lambda v: v.resource_id)


def _key(tag: str, attribution: AttributionConfig) -> str:
    from mlcost.attribution.tags import canonical_key

    return canonical_key(tag, attribution) or tag


def _max_duration(
    wh: Warehouse,
    policy: PolicyConfig,
    now: datetime | None,
    budgets: Sequence[BudgetConfig],
    attribution: AttributionConfig,
) -> list[Violation]:
    w = wh.table("workloads")
    running = w.filter(w["end"].isnull() & w.start.notnull())
    rows = running.select("workload_id", "kind", "start").to_pyarrow().to_pylist()
    at = now or datetime.now(UTC).replace(tzinfo=None)
    out = []
    for r in rows:
        limit = policy.max_hours.get(r["kind"] or "", policy.max_hours.get("*"))
        if limit is None:
            continue
        hours = (at - r["start"]).total_seconds() / 3600
        if hours > limit:
            v = Violation.of(
                policy,
                r["workload_id"],
                f"{r['kind'] or 'workload'} running {hours:,.1f} h since "
                f"{r['start']:%Y-%m-%d %H:%M} UTC; the limit is {limit:g} h",
                at,
            )
            out.append(replace(v, workload_id=r["workload_id"]))
    return sorted(out, key=lambda v: v.resource_id)


def _max_gpus(
    wh: Warehouse,
    policy: PolicyConfig,
    now: datetime | None,
    budgets: Sequence[BudgetConfig],
    attribution: AttributionConfig,
) -> list[Violation]:
    from mlcost.spending import resolve_dimension

    t, last = _gpu_line_items(wh, now)
    if last is None:
        return []
    first_seen = t.group_by(t.ResourceId).aggregate(first=t.ChargePeriodStart.min())
    if policy.owner == "owner":
        from mlcost.attribution.model import line_owners

        live = line_owners(wh, attribution, last, last + timedelta(seconds=1))
        live = live.filter((live.x_GpuCount > 0) & live.ResourceId.notnull())
        owner = live.owner
    else:
        live = t.filter(t.ChargePeriodStart == last)
        owner = resolve_dimension(live, policy.owner).name("owner")
    now_gpus = live.group_by([owner, live.ResourceId]).aggregate(gpus=live.x_GpuCount.max())
    rows = now_gpus.join(first_seen, "ResourceId").to_pyarrow().to_pylist()
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_owner.setdefault(NO_OWNER if r["owner"] is None else str(r["owner"]), []).append(r)
    out = []
    for who, items in sorted(by_owner.items()):
        cap = policy.max_gpus.get(who, policy.max_gpus.get("*"))
        if cap is None:
            continue
        total = sum(float(r["gpus"]) for r in items)
        # The newest resources go first: the cap was fine before they started.
        for r in sorted(items, key=lambda r: (r["first"], r["ResourceId"]), reverse=True):
            if total <= cap:
                break
            v = Violation.of(
                policy,
                r["ResourceId"],
                f"{who} runs {total:g} GPUs at {last:%Y-%m-%d %H:%M} UTC, cap {cap:g}; "
                f"this resource ({float(r['gpus']):g} GPUs) started last",
                last,
            )
            out.append(replace(v, owner=r["owner"]))
            total -= float(r["gpus"])
    return out


NO_OWNER = "(no owner)"


_Kind = Callable[
    ["Warehouse", PolicyConfig, datetime | None, Sequence[BudgetConfig], AttributionConfig],
    list[Violation],
]
_KINDS: dict[str, _Kind] = {
    "idle": _idle,
    "budget": _budget,
    "required-tags": _required_tags,
    "max-duration": _max_duration,
    "max-gpus": _max_gpus,
}


def check(
    wh: Warehouse,
    policies: Sequence[PolicyConfig],
    *,
    now: datetime | None = None,
    budgets: Sequence[BudgetConfig] = (),
    attribution: AttributionConfig | None = None,
    owners: Mapping[str, OwnerConfig] | None = None,
) -> list[Violation]:
    """Every violation of ``policies`` in their scopes; reads only. ``budgets``: for
    ``kind = "budget"``; ``attribution``: who owns what (owners, tag key aliases; default
    settings if None); ``owners``: ``[owners.<name>]`` (their working hours and zones).

    Each violation names the billed resource (``resource_id``, ``resource_name``) when the
    resource is billed, whatever name the telemetry or the scheduler gave it."""
    return [v for v, _ in found(wh, policies, now, budgets, attribution, owners)]


def found(
    wh: Warehouse,
    policies: Sequence[PolicyConfig],
    now: datetime | None,
    budgets: Sequence[BudgetConfig],
    attribution: AttributionConfig | None,
    owners: Mapping[str, OwnerConfig] | None,
) -> list[tuple[Violation, Facts]]:
    """:func:`check`'s violations, each with the facts its scope was judged on."""
    from mlcost.policies._scope import facts, in_scope

    config = attribution or AttributionConfig()
    raw = [v for p in policies for v in _KINDS[p.kind](wh, p, now, budgets, config)]
    named = _identified(wh, config, raw)
    known = facts(wh, named)
    by_name = {p.name: p for p in policies}
    return [
        (v, known[v.target])
        for v in named
        if in_scope(v, by_name[v.policy], known[v.target], owners or {})
    ]


def _identified(
    wh: Warehouse, config: AttributionConfig, found: Sequence[Violation]
) -> list[Violation]:
    """Violations named by their billed identity: a telemetry host becomes its ResourceId,
    a workload carries the resource it ran on; owners from the owner model where unknown."""
    from mlcost.attribution.identity import named, resource_type, workload_identity

    workloads = sorted({v.workload_id for v in found if v.workload_id})
    ran_on: dict[str, str] = {}
    tags: dict[str, dict[str, str]] = {}
    clusters: dict[str, str | None] = {}
    if workloads:
        w = wh.table("workloads")
        w = w.filter(w.workload_id.isin(workloads))
        cols = ("workload_id", "resource_id", "node", "tags", "cluster")
        for r in w.select(*cols).to_pyarrow().to_pylist():
            tags[r["workload_id"]] = dict(r["tags"] or {})
            clusters[r["workload_id"]] = r["cluster"]
            host = r["resource_id"] or r["node"]
            if host:
                ran_on[r["workload_id"]] = host
    names = [
        ran_on.get(v.workload_id, v.resource_id) if v.workload_id else v.resource_id for v in found
    ]
    out = []
    for v in named(wh, config, found, names, model_owner=False):
        if v.workload_id:  # the workload is what is acted on; where it runs gives the region
            wid = v.workload_id
            who = workload_identity(wid, tags=tags.get(wid), cluster=clusters.get(wid))
            act_on = who.resource_id if who.resource_id != wid else None
            v = replace(v, resource_type=who.resource_type, act_on=act_on, cluster=who.cluster)
        elif v.resource_type is None:  # nothing billed: what its own id says, if anything
            v = replace(v, resource_type=resource_type(v.resource_id))
        if v.executor == AUTO:
            v = replace(v, executor=EXECUTOR_BY_TYPE.get(v.resource_type or "", AUTO))
        out.append(v)
    return out
