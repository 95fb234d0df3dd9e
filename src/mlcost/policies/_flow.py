"""Notice, grace, act: what happens to each violation (Cloud Custodian's mark-for-op).

The first time a resource violates a policy, :func:`enforce` marks it with a deadline (the
violation's moment plus the policy's ``grace``) and tells its owner through the owner's
channels (``[owners.<name>] channels``, else the policy's ``channels``) with the evidence,
the deadline and how to keep it. At the deadline the action runs only if the violation
still holds on data from the deadline on; a resource with no data since the deadline is
reported (``skipped``), not acted on; a marked resource that no longer violates has its mark
closed (``ok``). ``grace = 0`` marks and acts in the same run.

A resource is kept by an exemption (``mlcost policies exempt``), by the tag ``keep_tag``
(``mlcost:keep-until=YYYY-MM-DD``, through that day, UTC) or for good by ``protect_tag``
(``mlcost:protect=true``), read from its newest bill and, before acting, from the live
resource. Every mark, notice, exemption and action has an ``actions`` row (who, why); an
action's row is written before it runs and completed after (issue 22).

:func:`review` is the same decision read-only (``policies check``): what enforce would do.
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlcost.config import (
    AttributionConfig,
    BudgetConfig,
    ChannelConfig,
    OwnerConfig,
    PolicyConfig,
)
from mlcost.policies._enforce import Violation, found
from mlcost.policies._scope import Facts
from mlcost.policies._store import (
    AuditStore,
    Exemption,
    Mark,
    MarkStore,
    exemptions,
    open_marks,
)
from mlcost.policies.executors import (
    Executor,
    ExecutorError,
    Unexecutable,
    executor_for,
    run_action,
    with_retries,
)

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["DECISIONS", "Decision", "enforce", "exempt", "review"]

DECISIONS = (
    "ok",
    "marked",
    "notified",
    "would-act",
    "acted",
    "exempt",
    "protected",
    "failed",
    "skipped",
)


@dataclass(frozen=True)
class Decision:
    """What became of one violation (or of an open mark) in one run."""

    violation: Violation
    mode: str  # check, dry-run, execute
    decision: str  # one of DECISIONS
    detail: str
    executor: str | None = None
    deadline: datetime | None = None

    @property
    def outcome(self) -> str:
        """The decision (the name older callers use)."""
        return self.decision

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``policies check|enforce --format json``."""
        v = self.violation
        return {
            "policy": v.policy,
            "resource": v.target,
            "resource_id": v.resource_id,
            "resource_name": v.resource_name,
            "workload_id": v.workload_id,
            "owner": v.owner,
            "decision": self.decision,
            "outcome": self.decision,  # the name older readers use
            "action": v.action,
            "executor": self.executor,
            "provider": v.provider,
            "account": v.account,
            "region": v.region,
            "resource_type": v.resource_type,
            "deadline": self.deadline.isoformat(sep=" ") if self.deadline else None,
            "reason": v.reason,
            "detail": self.detail,
            "mode": self.mode,
        }


def actor() -> str:
    """``user@host`` of this process: the audit's who."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class _Run:
    """One evaluation: its settings, and (when it writes) its stores and notices."""

    wh: Warehouse
    policies: Mapping[str, PolicyConfig]
    owners: Mapping[str, OwnerConfig]
    channels: Mapping[str, ChannelConfig]
    at: datetime  # the evaluation moment: --as-of, else now
    mode: str
    actor: str
    write: bool
    execute: bool
    made: dict[Any, Executor | Unexecutable]  # executor_for's cache (and overrides by name)
    marks: dict[tuple[str, str], Mark] = field(default_factory=dict)
    kept: list[Exemption] = field(default_factory=list)
    audited: set[int] = field(default_factory=set)  # id() of decisions with their own row
    notices: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # (policy, target) -> (notice key, its channels), for the notices recorded this run

    def audit(self, v: Violation, action: str, outcome: str, detail: str, **extra: Any) -> None:
        if not self.write:
            return
        row = {
            "acted_at": datetime.now().replace(microsecond=0),
            "actor": self.actor,
            "policy": v.policy,
            "resource_id": v.target,
            "action": action,
            "executor": extra.get("executor"),
            "mode": self.mode,
            "reason": extra.get("reason", v.reason),
            "outcome": outcome,
            "detail": detail,
        }
        with self.wh.transaction():
            AuditStore(self.wh).add(row)


def _keep_tags(policy: PolicyConfig, tags: Mapping[str, str], at: datetime) -> tuple[str, str]:
    """(``protected`` | ``exempt`` | "", why) from a resource's tags at ``at``."""
    if tags.get(policy.protect_tag, "").strip().lower() == "true":
        return "protected", f"protected: {policy.protect_tag}=true"
    until = tags.get(policy.keep_tag, "").strip()
    if until:
        try:
            day = date.fromisoformat(until)
        except ValueError:
            return "", ""  # not a date: it keeps nothing (the notice shows YYYY-MM-DD)
        if at.date() <= day:
            return "exempt", f"kept by tag {policy.keep_tag}={until}"
    return "", ""


def _stored_exemption(run: _Run, v: Violation, at: datetime) -> Exemption | None:
    for e in run.kept:
        if e.resource_id in (v.resource_id, v.target) and e.holds(v.policy, at):
            return e
    return None


def _notice(run: _Run, v: Violation, policy: PolicyConfig, mark: Mark) -> tuple[str, ...]:
    """Record the owner's notice of ``mark`` (delivered at the end of the run); its channels."""
    from mlcost.notify import record_alerts

    owner = run.owners.get(v.owner or "")
    names = (owner.channels if owner and owner.channels else ()) or policy.channels
    if not names:
        return ()
    key = f"policy|{v.policy}|{v.target}|{mark.marked_at.isoformat()}"
    keep = (
        f"mlcost policies exempt {v.resource_id} --until YYYY-MM-DD --reason '...' "
        f"(or tag it {policy.keep_tag}=YYYY-MM-DD; {policy.protect_tag}=true keeps it for good)"
    )
    message = (
        f"[{v.policy}] {v.resource_name or v.target} ({v.target}), owner {v.owner or 'unknown'}: "
        f"{v.reason}. mlcost will {v.action} it after {mark.deadline:%Y-%m-%d %H:%M} UTC if "
        f"this still holds then. To keep it: {keep}"
    )
    payload = {
        "alert_key": key,
        "source": "policy",
        "policy": v.policy,
        "resource_id": v.resource_id,
        "resource_name": v.resource_name,
        "target": v.target,
        "owner": v.owner,
        "action": v.action,
        "evidence": v.reason,
        "marked_at": mark.marked_at.isoformat(),
        "deadline": mark.deadline.isoformat(),
        "keep": keep,
        "message": message,
    }
    alert = {
        "alert_key": key,
        "source": "policy",
        "subject": v.target,
        "period_start": None,
        "kind": "notice",
        "threshold": None,
        "amount": None,
        "limit_amount": None,
        "currency": None,
        "message": message,
        "payload": json.dumps(payload, sort_keys=True),
        "created_at": datetime.now().replace(microsecond=0),
        "_channels": tuple(names),
    }
    record_alerts(run.wh, [alert], run.channels)
    return tuple(names)


def _live(run: _Run, executor: Executor, v: Violation, policy: PolicyConfig) -> Decision | str:
    """The live resource's word before anything is marked or done: kept by its tags, or
    nothing left to act on; else its state (go on)."""
    target = executor.target(v.act_on or v.target)
    if target is None:
        return Decision(
            v,
            run.mode,
            "skipped",
            f"{v.target!r} is not a resource {executor.name} acts on",
            executor.name,
        )
    try:
        # Live reads retried like the action: a 5xx or a timeout may pass.
        kept, why = _keep_tags(policy, with_retries(lambda: executor.tags(target)), run.at)
        if kept:
            return Decision(v, run.mode, kept, why, executor.name)
        state = with_retries(lambda: executor.state(target))
    except ExecutorError as exc:
        return Decision(v, run.mode, "failed", str(exc), executor.name)
    if state in executor.inactive:
        return Decision(v, run.mode, "skipped", f"already {state}", executor.name)
    return state


def _one(run: _Run, v: Violation, facts: Facts) -> Decision:
    """Decide on one violation (see the module)."""
    policy = run.policies[v.policy]
    seen = v.last_seen or v.at or run.at
    key = (v.policy, v.target)
    mark = run.marks.get(key)

    def close(why: str) -> None:
        if mark is not None and run.write:
            with run.wh.transaction():
                MarkStore(run.wh).close(mark, run.at, why)

    kept, why = _keep_tags(policy, facts.tags, run.at)
    stored = _stored_exemption(run, v, run.at)
    if not kept and stored is not None:
        until = f"until {stored.until:%Y-%m-%d %H:%M} UTC" if stored.until else "for good"
        kept, why = "exempt", f"exempted {until} by {stored.actor}: {stored.reason}"
    if kept:
        close(kept)
        return Decision(v, run.mode, kept, why)
    chosen = executor_for(v.identity(), policy, made=run.made)
    fault = ""
    if isinstance(chosen, Unexecutable):
        if chosen.decision != "failed":  # no executor for it, or another policy's kind
            return Decision(v, run.mode, "skipped", str(chosen), v.executor)
        if run.write:  # a fault to fix (no credentials, no client): nothing is marked
            return Decision(v, run.mode, "failed", str(chosen), v.executor)
        fault = f"; enforce fails until this is fixed: {chosen}"  # check calls no provider
    executor = None if isinstance(chosen, Unexecutable) else chosen
    name, state = executor.name if executor else v.executor, ""
    if run.write and executor is not None:
        # enforce reads the live resource (check reads nothing outside mlcost)
        said = _live(run, executor, v, policy)
        if isinstance(said, Decision):
            close(said.decision)
            return said
        state = f" ({said})"
    decision, new = "marked", False
    if mark is None:
        mark = Mark(v.policy, v.target, seen, seen + policy.grace, run.actor, v.reason)
        if run.write:
            with run.wh.transaction():
                MarkStore(run.wh).mark(mark)
            deadline = f"deadline {mark.deadline:%Y-%m-%d %H:%M} UTC"
            run.audit(v, "mark", "marked", deadline, executor=name)
            channels = _notice(run, v, policy, mark)
            if channels:
                notice = f"policy|{v.policy}|{v.target}|{mark.marked_at.isoformat()}"
                run.notices[key] = (notice, ", ".join(channels))
                decision = "notified"
        run.marks[key] = mark
        new = True
        detail = (
            f"{'marked now' if run.write else 'not marked yet: policies enforce marks it'}; "
            f"{v.action} after {mark.deadline:%Y-%m-%d %H:%M} UTC if it still holds"
        )
    else:
        detail = (
            f"marked {mark.marked_at:%Y-%m-%d %H:%M} UTC; {v.action} after "
            f"{mark.deadline:%Y-%m-%d %H:%M} UTC if it still holds"
        )
    if seen < mark.deadline:
        if run.at >= mark.deadline and not new:
            return Decision(
                v,
                run.mode,
                "skipped",
                f"no data since the deadline {mark.deadline:%Y-%m-%d %H:%M} UTC (newest "
                f"{seen:%Y-%m-%d %H:%M} UTC): not acted on",
                name,
                mark.deadline,
            )
        said = Decision(v, run.mode, decision, detail + fault, name, mark.deadline)
        if new:
            run.audited.add(id(said))  # its mark row (and notice row) say it
        return said
    # The deadline has passed and the violation holds on data from then on: act.
    target = (executor.target(v.act_on or v.target) if executor else None) or v.act_on or v.target
    if not run.execute or executor is None:  # (executing: an executor was found, see above)
        return Decision(
            v,
            run.mode,
            "would-act",
            f"{v.action} {target}{state}; run with --execute to act{fault}",
            name,
            mark.deadline,
        )
    row = {
        "acted_at": datetime.now().replace(microsecond=0),
        "actor": run.actor,
        "policy": v.policy,
        "resource_id": v.target,
        "action": v.action,
        "executor": name,
        "mode": run.mode,
        "reason": v.reason,
    }
    audit = AuditStore(run.wh)
    intent = audit.begin(row)  # the intent is on record before the executor may act
    outcome = run_action(executor, v.action, target)
    decision = "acted" if outcome.ok else "failed"
    detail = outcome.detail if outcome.ok else (outcome.error or "failed")
    audit.complete(intent, decision, detail)
    if outcome.ok:
        close("acted")
    said = Decision(v, run.mode, decision, detail, name, mark.deadline)
    run.audited.add(id(said))
    return said


def _closed(run: _Run, mark: Mark, idle_seen: Mapping[str, datetime | None]) -> Decision:
    """An open mark whose resource no longer violates its policy."""
    policy = run.policies[mark.policy]
    v = Violation(mark.policy, mark.resource_id, policy.action, policy.executor, mark.reason)
    if policy.kind == "idle":
        # Not idle over the window may only mean no samples in it: then nothing is judged.
        newest = idle_seen.get(mark.resource_id)
        since = f"newest {newest:%Y-%m-%d %H:%M} UTC" if newest else "none"
        if run.at >= mark.deadline and (newest is None or newest < mark.deadline):
            why = f"no telemetry since the deadline {mark.deadline:%Y-%m-%d %H:%M} UTC ({since})"
        elif newest is None or newest < run.at - timedelta(minutes=policy.minutes):
            why = f"no telemetry in the last {policy.minutes} min ({since})"
        else:
            why = ""
        if why:
            return Decision(
                v,
                run.mode,
                "skipped",
                f"{why}: not acted on; the mark stays",
                deadline=mark.deadline,
            )
    if run.write:
        with run.wh.transaction():
            MarkStore(run.wh).close(mark, run.at, "ok")
    return Decision(v, run.mode, "ok", "no longer violates the policy; mark closed")


def _newest_samples(wh: Warehouse, ids: Sequence[str], at: datetime) -> dict[str, datetime | None]:
    """The newest GPU sample up to ``at`` of each billed resource, under any of its names."""
    from mlcost.attribution.identity import identify

    if not ids:
        return {}
    ids_of = identify(wh, ids)
    names = {n: rid for rid, who in ids_of.items() for n in (rid, who.short_id, *who.names)}
    names.update({rid: rid for rid in ids})
    s = wh.table("gpu_samples")
    s = s.filter(s.resource_id.isin(sorted(names)) & (s.time <= at))
    newest: dict[str, datetime | None] = {}
    for r in s.group_by("resource_id").aggregate(t=s.time.max()).to_pyarrow().to_pylist():
        rid, t = names[r["resource_id"]], r["t"]
        old = newest.get(rid)
        if old is None or t > old:
            newest[rid] = t
    return newest


def _decide(
    wh: Warehouse,
    policies: Sequence[PolicyConfig],
    *,
    write: bool,
    execute: bool,
    now: datetime | None,
    who: str | None,
    executors: Mapping[str, Executor] | None,
    budgets: Sequence[BudgetConfig],
    attribution: AttributionConfig | None,
    owners: Mapping[str, OwnerConfig] | None,
    channels: Mapping[str, ChannelConfig] | None,
) -> list[Decision]:
    run = _Run(
        wh=wh,
        policies={p.name: p for p in policies},
        owners=owners or {},
        channels=channels or {},
        at=now or _utcnow(),
        mode="execute" if execute else ("dry-run" if write else "check"),
        actor=who or actor(),
        write=write,
        execute=execute,
        made=dict(executors or {}),
    )
    if write:  # notices need owners: the owner model brought up to date (a write)
        from mlcost.attribution.model import refresh

        refresh(wh, attribution or AttributionConfig())
    run.marks = {k: m for k, m in open_marks(wh).items() if k[0] in run.policies}
    run.kept = exemptions(wh)
    violations, seen_targets = [], set()
    for v, facts in found(wh, policies, now, budgets, attribution, owners):
        if (v.policy, v.target) not in seen_targets:  # two source names, one resource
            seen_targets.add((v.policy, v.target))
            violations.append((v, facts))
    decisions = [_one(run, v, facts) for v, facts in violations]
    stale = [m for k, m in sorted(run.marks.items()) if k not in seen_targets]
    idle = [m.resource_id for m in stale if run.policies[m.policy].kind == "idle"]
    seen = _newest_samples(wh, idle, run.at)
    decisions += [_closed(run, m, seen) for m in stale]
    for d in decisions:
        if id(d) not in run.audited:
            run.audit(d.violation, d.violation.action, d.decision, d.detail, executor=d.executor)
    if run.notices:
        decisions = _deliver(run, decisions)
    return decisions


def _deliver(run: _Run, decisions: list[Decision]) -> list[Decision]:
    """Deliver the run's notices; a notice not delivered leaves its decision ``marked``
    (it stays pending and the next run retries it)."""
    from dataclasses import replace

    from mlcost.notify import deliver_pending

    report = deliver_pending(run.wh, run.channels)
    failed = {key: error for key, _, error in report.failed}
    out = []
    for d in decisions:
        v = d.violation
        if (v.policy, v.target) not in run.notices:
            out.append(d)
            continue
        notice, chans = run.notices[(v.policy, v.target)]
        if notice in failed:
            run.audit(v, "notify", "failed", f"to {chans}: {failed[notice]}; retried next run")
            out.append(replace(d, decision="marked" if d.decision == "notified" else d.decision))
        else:
            run.audit(v, "notify", "notified", f"owner {v.owner or 'unknown'} told via {chans}")
            out.append(d)
    return out


def review(
    wh: Warehouse,
    policies: Sequence[PolicyConfig],
    *,
    now: datetime | None = None,
    budgets: Sequence[BudgetConfig] = (),
    attribution: AttributionConfig | None = None,
    owners: Mapping[str, OwnerConfig] | None = None,
) -> list[Decision]:
    """What :func:`enforce` would decide, read-only: no mark, no notice, no call to any
    provider. A violation not yet marked shows as ``marked`` with the deadline it would get."""
    return _decide(
        wh,
        policies,
        write=False,
        execute=False,
        now=now,
        who=None,
        executors=None,
        budgets=budgets,
        attribution=attribution,
        owners=owners,
        channels=None,
    )


def enforce(
    wh: Warehouse,
    policies: Sequence[PolicyConfig],
    *,
    execute: bool = False,
    now: datetime | None = None,
    actor: str | None = None,
    executors: Mapping[str, Executor] | None = None,
    budgets: Sequence[BudgetConfig] = (),
    attribution: AttributionConfig | None = None,
    owners: Mapping[str, OwnerConfig] | None = None,
    channels: Mapping[str, ChannelConfig] | None = None,
) -> list[Decision]:
    """Mark, notify, and past the deadline act (only with ``execute=True``); audit each step.

    Dry-run is the default: marks and notices are written (the grace starts), nothing is
    acted on. ``now``: evaluate at this moment (``--as-of``). ``executors`` overrides the
    executors made from each policy's settings (by executor name). ``owners`` and
    ``channels``: where notices go (``[owners.<name>]``, ``[notify.channels.<name>]``).
    """
    return _decide(
        wh,
        policies,
        write=True,
        execute=execute,
        now=now,
        who=actor,
        executors=executors,
        budgets=budgets,
        attribution=attribution,
        owners=owners,
        channels=channels,
    )


def exempt(
    wh: Warehouse,
    resource: str,
    *,
    until: datetime | None,
    reason: str,
    policy: str | None = None,
    actor_name: str | None = None,
) -> Exemption:
    """Keep ``resource`` (a billed id, short id or name, resolved through the resource
    identity; or a workload id) from ``policy`` (None: every policy) until ``until`` (None:
    for good). Closes its open marks; audited."""
    from mlcost.attribution.identity import identify
    from mlcost.errors import InvalidInput

    if not reason.strip():
        raise InvalidInput("an exemption needs a reason: --reason 'why it must keep running'")
    rid = resource
    who = identify(wh, [resource]).get(resource)
    if who is not None:
        rid = who.resource_id
    else:
        w = wh.table("workloads")
        if w.filter(w.workload_id == resource).count().execute() == 0:
            raise InvalidInput(
                f"{resource!r} is no billed resource (ResourceId, instance id or name) and no "
                "workload id; see mlcost sources --unmatched for names that link to nothing"
            )
    row = Exemption(rid, policy, until, reason.strip(), actor_name or actor(), _utcnow())
    v = Violation(policy or "*", rid, "exempt", "", reason.strip())
    kept = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "for good"
    with wh.transaction():
        store = MarkStore(wh)
        store.exempt(row)
        for (p, target), mark in open_marks(wh).items():
            if target == rid and policy in (None, p):
                store.close(mark, row.created_at, "exempt")
        AuditStore(wh).add(
            {
                "acted_at": datetime.now().replace(microsecond=0),
                "actor": row.actor,
                "policy": v.policy,
                "resource_id": rid,
                "action": "exempt",
                "executor": None,
                "mode": "execute",
                "reason": row.reason,
                "outcome": "exempt",
                "detail": f"kept {kept}",
            }
        )
    return row
