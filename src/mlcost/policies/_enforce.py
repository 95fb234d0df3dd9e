"""Guardrail policies: find violations, decide, act only when told, audit every decision."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlcost.config import BudgetConfig, PolicyConfig
from mlcost.errors import ConfigError
from mlcost.policies._store import AuditStore
from mlcost.policies.executors import EXECUTORS, Executor, ExecutorError, make_executor

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = ["Decision", "Violation", "check", "enforce"]


@dataclass(frozen=True)
class Violation:
    """A resource that breaks a policy, and the action the policy would take."""

    policy: str
    resource_id: str
    action: str
    executor: str
    reason: str

    @classmethod
    def of(cls, policy: PolicyConfig, resource_id: object, reason: str) -> Violation:
        """The violation of ``policy`` by one resource, with the action the policy names."""
        return cls(policy.name, str(resource_id), policy.action, policy.executor, reason)


@dataclass(frozen=True)
class Decision:
    """What :func:`enforce` did about a violation (one ``actions`` audit row)."""

    violation: Violation
    mode: str  # dry-run, execute
    outcome: str  # would-act, executed, skipped, failed, unsupported
    detail: str

    def as_dict(self) -> dict[str, Any]:
        v = self.violation
        return {
            "policy": v.policy,
            "resource": v.resource_id,
            "action": v.action,
            "executor": v.executor,
            "mode": self.mode,
            "outcome": self.outcome,
            "reason": v.reason,
            "detail": self.detail,
        }


def _idle(
    wh: Warehouse, policy: PolicyConfig, now: datetime | None, budgets: Sequence[BudgetConfig]
) -> list[Violation]:
    s = wh.table("gpu_samples")
    if now is None:
        latest = s.time.max().execute()
        if latest is None:
            return []
        now = latest
    if policy.working_hours:
        from zoneinfo import ZoneInfo

        local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(policy.timezone))
        if any(local in span for span in policy.working_hours):
            return []  # idle machines are left alone during working hours
    start = now - timedelta(minutes=policy.minutes)
    window = s.filter((s.time >= start) & (s.time <= now))
    util = window.utilization_max.fill_null(window.utilization)
    per = window.group_by(window.resource_id).aggregate(
        first=window.time.min(),
        peak=util.max(),
        mean=window.utilization.mean(),
        step=window.resolution_s.max(),
    )
    out = []
    for r in per.to_pyarrow().to_pylist():
        # Idle only if the samples reach back over the whole window, not since a late start.
        covered = r["first"] <= start + timedelta(seconds=int(r["step"] or 0))
        if covered and r["peak"] is not None and r["peak"] <= policy.max_utilization:
            out.append(
                Violation.of(
                    policy,
                    r["resource_id"],
                    (
                        f"GPU utilization at most {r['peak']:.1%} (mean {r['mean']:.1%}) for "
                        f"{policy.minutes} min up to {now:%Y-%m-%d %H:%M} UTC; the policy "
                        f"allows {policy.max_utilization:.0%}"
                    ),
                )
            )
    return sorted(out, key=lambda v: v.resource_id)


def _budget(
    wh: Warehouse, policy: PolicyConfig, now: datetime | None, budgets: Sequence[BudgetConfig]
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
    status = budget_status(wh, budget, as_of=now)
    if status.spent < budget.amount:
        return []
    # The scope's GPU resources in non-production envs billed on the evaluation day.
    t = wh.table("cost_line_items")
    day = datetime.combine(status.period_start, datetime.min.time())
    last = t.filter(t.ChargePeriodStart >= day).ChargePeriodStart.max().execute()
    if last is None:
        return []
    since = datetime.combine(last.date(), datetime.min.time())
    t = t.filter((t.ChargePeriodStart >= since) & (t.x_GpuCount > 0) & t.ResourceId.notnull())
    for dim, values in budget.scope.items():
        t = t.filter(resolve_dimension(t, dim).isin(list(values)))
    env = resolve_dimension(t, "tag:env|Env|environment")
    t = t.filter(env.isin(list(policy.envs)))
    ids = sorted(set(t.ResourceId.to_pyarrow().to_pylist()))
    why = (
        f"budget {budget.name!r} spent {status.spent:,.2f} of {budget.amount:,.2f} "
        f"{budget.currency} (100% reached); resource in env {'/'.join(policy.envs)}"
    )
    return [Violation.of(policy, r, why) for r in ids]


def _gpu_line_items(wh: Warehouse, now: datetime | None) -> tuple[ir.Table, datetime | None]:
    """Billed GPU resources' line items up to ``now``, and their latest charge hour."""
    t = wh.table("cost_line_items")
    t = t.filter((t.x_GpuCount > 0) & t.ResourceId.notnull())
    if now is not None:
        t = t.filter(t.ChargePeriodStart <= now)
    last: datetime | None = t.ChargePeriodStart.max().execute()
    return t, last


def _required_tags(
    wh: Warehouse, policy: PolicyConfig, now: datetime | None, budgets: Sequence[BudgetConfig]
) -> list[Violation]:
    from mlcost.spending import resolve_dimension

    t, last = _gpu_line_items(wh, now)
    if last is None:
        return []
    today = datetime.combine(last.date(), datetime.min.time())
    missing = [resolve_dimension(t, f"tag:{k}").isnull().name(k) for k in policy.tags]
    m = t.mutate(*missing)
    per = m.group_by(m.ResourceId).aggregate(
        first=m.ChargePeriodStart.min(),
        latest=m.ChargePeriodStart.max(),
        **{k: m[k].all() for k in policy.tags},
    )
    out = []
    for r in per.to_pyarrow().to_pylist():
        lacks = [k for k in policy.tags if r[k]]
        old = r["first"] <= last - timedelta(hours=policy.hours)
        if lacks and old and r["latest"] >= today:
            out.append(
                Violation.of(
                    policy,
                    r["ResourceId"],
                    f"GPU resource without tag(s) {', '.join(lacks)} since "
                    f"{r['first']:%Y-%m-%d %H:%M} UTC (more than {policy.hours} h)",
                )
            )
    return sorted(out, key=lambda v: v.resource_id)


def _max_duration(
    wh: Warehouse, policy: PolicyConfig, now: datetime | None, budgets: Sequence[BudgetConfig]
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
            out.append(
                Violation.of(
                    policy,
                    r["workload_id"],
                    f"{r['kind'] or 'workload'} running {hours:,.1f} h since "
                    f"{r['start']:%Y-%m-%d %H:%M} UTC; the limit is {limit:g} h",
                )
            )
    return sorted(out, key=lambda v: v.resource_id)


def _max_gpus(
    wh: Warehouse, policy: PolicyConfig, now: datetime | None, budgets: Sequence[BudgetConfig]
) -> list[Violation]:
    from mlcost.spending import resolve_dimension

    t, last = _gpu_line_items(wh, now)
    if last is None:
        return []
    first_seen = t.group_by(t.ResourceId).aggregate(first=t.ChargePeriodStart.min())
    live = t.filter(t.ChargePeriodStart == last)
    owner = resolve_dimension(live, policy.owner).name("owner")
    now_gpus = live.group_by([owner, live.ResourceId]).aggregate(gpus=live.x_GpuCount.max())
    rows = now_gpus.join(first_seen, "ResourceId").to_pyarrow().to_pylist()
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_owner.setdefault("(no owner)" if r["owner"] is None else str(r["owner"]), []).append(r)
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
            out.append(
                Violation.of(
                    policy,
                    r["ResourceId"],
                    f"{who} runs {total:g} GPUs at {last:%Y-%m-%d %H:%M} UTC, cap {cap:g}; "
                    f"this resource ({float(r['gpus']):g} GPUs) started last",
                )
            )
            total -= float(r["gpus"])
    return out


_Kind = Callable[
    ["Warehouse", PolicyConfig, datetime | None, Sequence[BudgetConfig]], list[Violation]
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
) -> list[Violation]:
    """Every violation of ``policies``; reads only. ``budgets``: for ``kind = "budget"``."""
    return [v for p in policies for v in _KINDS[p.kind](wh, p, now, budgets)]


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _decide(
    v: Violation, policy: PolicyConfig, executor: Executor | str | None, execute: bool
) -> tuple[str, str]:
    if executor is None:
        return "unsupported", f"no executor {v.executor!r}; mlcost has {', '.join(EXECUTORS)}"
    if isinstance(executor, str):  # it could not be made (no credentials, no client library)
        return "failed", executor
    if v.action not in executor.actions:
        return "unsupported", f"{executor.name} can {', '.join(sorted(executor.actions))}"
    target = executor.target(v.resource_id)
    if target is None:
        return "skipped", f"{v.resource_id!r} is not a resource {executor.name} acts on"
    try:
        tags = executor.tags(target)
        if tags.get(policy.protect_tag, "").strip().lower() == "true":
            return "skipped", f"protected: {policy.protect_tag}=true"
        state = executor.state(target)
        if state in executor.inactive:
            return "skipped", f"already {state}"
        if not execute:
            return "would-act", f"{v.action} {target} ({state}); run with --execute to act"
        return "executed", executor.act(v.action, target)
    except ExecutorError as exc:
        return "failed", str(exc)


def _make(policy: PolicyConfig) -> Executor | str | None:
    try:
        return make_executor(
            policy.executor, region=policy.region, endpoint_url=policy.endpoint_url
        )
    except ExecutorError as exc:
        return str(exc)
    except ImportError as exc:
        extra = "kubernetes" if policy.executor == "kubernetes" else "aws"
        return f"{policy.executor}: {exc}; install it with pip install 'mlcost[{extra}]'"


def enforce(
    wh: Warehouse,
    policies: Sequence[PolicyConfig],
    *,
    execute: bool = False,
    now: datetime | None = None,
    actor: str | None = None,
    executors: Mapping[str, Executor] | None = None,
    budgets: Sequence[BudgetConfig] = (),
) -> list[Decision]:
    """Decide on every violation; act only with ``execute=True``; audit each decision.

    Dry-run is the default. A resource whose live ``protect_tag`` is ``true`` is skipped.
    ``executors`` overrides the ones made from each policy's settings (by executor name).
    """
    audit = AuditStore(wh)
    by_name = {p.name: p for p in policies}
    made: dict[str, Executor | str | None] = dict(executors or {})
    decisions = []
    who = actor or _actor()
    mode = "execute" if execute else "dry-run"
    for v in check(wh, policies, now=now, budgets=budgets):
        policy = by_name[v.policy]
        key = f"{policy.executor}|{policy.region}|{policy.endpoint_url}"
        if policy.executor not in made and key not in made:
            made[key] = _make(policy)
        executor = made.get(policy.executor, made.get(key))
        outcome, detail = _decide(v, policy, executor, execute)
        decision = Decision(v, mode, outcome, detail)
        with wh.transaction():
            audit.add(
                {
                    "acted_at": datetime.now().replace(microsecond=0),
                    "actor": who,
                    "policy": v.policy,
                    "resource_id": v.resource_id,
                    "action": v.action,
                    "executor": v.executor,
                    "mode": mode,
                    "outcome": outcome,
                    "reason": v.reason,
                    "detail": detail,
                }
            )
        decisions.append(decision)
    return decisions
