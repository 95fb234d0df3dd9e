"""One plan without overlap (issue 20): the findings' actions, each resource-hour counted once.

Actions on the same resource are taken in the order an expert would take them: stop or
terminate what is idle (idle schedules, forgotten instances, endpoint replicas to remove)
-> rightsize -> move to spot -> commit on what is left. Each later action on a resource
saves only on the cost the earlier ones leave: its saving is scaled by the share of the
resource's monthly cost that remains (and never exceeds it). A commitment covers only the
pool's resources (provider, region, instance type, billed on-demand) that no other action
touches, its saving scaled by their share of the pool's resource-hours; a pool whose
resources all get another action drops it. One-off waste (runaway, early stop, anomaly) is
not a monthly saving: it is summed apart. Money in the findings' currency (one currency).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mlcost.config import AttributionConfig
from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, money

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["Plan", "build_plan", "stored_plan"]

# finding -> the plan's action class, in the order they are applied (lower first).
ORDER = {"stop": 0, "terminate": 0, "rightsize": 1, "spot": 2}


def _action(f: Finding) -> str:
    pattern = f.evidence.get("pattern")
    if f.kind == "idle_gpu":
        return {"forgotten": "terminate", "unused_gpus": "rightsize"}.get(str(pattern), "stop")
    if f.kind == "overprovisioned_endpoint":
        return "stop"
    if f.kind == "commitment":
        return "commit" if pattern == "buy" else "use_commitment"
    return {"rightsize": "rightsize", "spot": "spot", "data_transfer": "transfer"}.get(
        f.kind, f.kind
    )


def _resources(f: Finding) -> list[str]:
    ids = f.evidence.get("replica_resource_ids")
    if isinstance(ids, list) and ids:
        return [str(i) for i in ids]
    return [f.resource_id] if f.resource_id else []


@dataclass(frozen=True)
class Plan:
    """The plan: recurring monthly saving without overlap, one-off waste apart."""

    recurring_monthly_saving: Decimal
    one_off_waste: Decimal
    currency: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)
    one_off_by_owner: dict[str, Decimal] = field(default_factory=dict)

    def for_owners(self, owners: Iterable[str]) -> Plan:
        """The part of the plan that is these owners': their actions (resolved against the
        whole organization's, so no resource-hour is counted twice) and their one-off waste."""
        keep = set(owners)
        actions = [a for a in self.actions if a["owner"] in keep]
        ids = {i for a in actions for i in a["finding_ids"]}
        total = sum((Decimal(str(a["monthly_saving"]["expected"])) for a in actions), Decimal(0))
        once = {k: v for k, v in self.one_off_by_owner.items() if k in keep}
        return Plan(
            money(total),
            money(sum(once.values(), Decimal(0))),
            self.currency,
            actions,
            [d for d in self.dropped if d["finding_id"] in ids],
            once,
        )

    def by(self, key: str) -> dict[str, Decimal]:
        """Recurring saving per ``owner`` or per ``action``."""
        out: dict[str, Decimal] = {}
        for a in self.actions:
            k = str(a[key] or "(no owner)")
            out[k] = out.get(k, Decimal(0)) + Decimal(str(a["monthly_saving"]["expected"]))
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "recurring_monthly_saving": float(self.recurring_monthly_saving),
            "one_off_waste": float(self.one_off_waste),
            "currency": self.currency,
            "by_owner": {k: float(v) for k, v in self.by("owner").items()},
            "by_action": {k: float(v) for k, v in self.by("action").items()},
            "actions": self.actions,
            "dropped": self.dropped,
        }


def _scaled(s: Saving, share: Decimal, cap: Decimal | None) -> Saving:
    def one(x: Decimal) -> Decimal:
        v = x * share
        return money(min(v, cap) if cap is not None else v)

    return Saving(one(s.low), one(s.expected), one(s.high), s.currency)


def build_plan(ctx: Context, findings: Sequence[Finding]) -> Plan:
    """Resolve the findings into one plan (see the module's docstring)."""
    currency = findings[0].monthly_saving.currency if findings else "USD"
    cost = {
        rid: ctx.monthly(sum((r.cost for r in rows), Decimal(0)))
        for rid, rows in ctx.gpu_hours.items()
    }
    left = dict(cost)
    actions: list[dict[str, Any]] = []
    dropped: list[dict[str, str]] = []
    one_off = Decimal(0)
    touched: set[str] = set()
    commits: list[Finding] = []
    ordered = sorted(
        (f for f in findings if f.recurring),
        key=lambda f: (ORDER.get(_action(f), 9), -f.monthly_saving.expected, f.id),
    )
    one_off_by_owner: dict[str, Decimal] = {}
    for f in findings:
        if not f.recurring:
            one_off += f.monthly_saving.expected
            who = f.owner or "(no owner)"
            one_off_by_owner[who] = (
                one_off_by_owner.get(who, Decimal(0)) + f.monthly_saving.expected
            )
    for f in ordered:
        act = _action(f)
        if f.monthly_saving.currency != currency:
            dropped.append({"finding_id": f.id, "reason": f"in {f.monthly_saving.currency}"})
            continue
        if f.kind == "untagged":
            dropped.append({"finding_id": f.id, "reason": "saves nothing by itself (tagging)"})
            continue
        if act == "commit":
            commits.append(f)
            continue
        rids = _resources(f)
        known = [r for r in rids if r in cost]
        if act in ORDER and known:
            # Split evenly over the resources it acts on; each part saves on what is left.
            part = Decimal(1) / len(known)
            parts = [
                _scaled(
                    f.monthly_saving, part * left[r] / cost[r] if cost[r] else Decimal(0), left[r]
                )
                for r in known
            ]
            saving = Saving(
                money(sum((p.low for p in parts), Decimal(0))),
                money(sum((p.expected for p in parts), Decimal(0))),
                money(sum((p.high for p in parts), Decimal(0))),
                currency,
            )
            for r, p in zip(known, parts, strict=True):
                left[r] -= p.expected
            touched.update(known)
            if saving.expected <= 0:
                dropped.append(
                    {"finding_id": f.id, "reason": "an earlier action already saves these hours"}
                )
                continue
        else:
            saving = f.monthly_saving
        actions.append(_row(act, f, rids, saving))
    for f in commits:
        ev = f.evidence
        pool = [
            rid
            for rid, rows in ctx.gpu_hours.items()
            if rows
            and rows[0].instance_type == ev.get("instance_type")
            and rows[0].region == ev.get("region")
            and any(r.pricing == "Standard" for r in rows)
        ]
        hours = {rid: sum(r.pricing == "Standard" for r in ctx.gpu_hours[rid]) for rid in pool}
        free = [rid for rid in pool if rid not in touched]
        pool_hours = sum(hours.values())
        if pool and not free:
            dropped.append(
                {
                    "finding_id": f.id,
                    "reason": "every resource of its pool gets a stop, rightsize or spot action "
                    "first: recompute the level after them",
                }
            )
            continue
        share = (
            Decimal(sum(hours[r] for r in free)) / Decimal(pool_hours) if pool_hours else Decimal(1)
        )
        saving = _scaled(f.monthly_saving, share, None)
        if saving.expected <= 0:
            dropped.append({"finding_id": f.id, "reason": "no on-demand hours left to commit"})
            continue
        actions.append(_row("commit", f, sorted(free), saving, share=float(round(share, 4))))
    actions.sort(key=lambda a: (-a["monthly_saving"]["expected"], a["finding_ids"][0]))
    total = sum((Decimal(str(a["monthly_saving"]["expected"])) for a in actions), Decimal(0))
    return Plan(money(total), money(one_off), currency, actions, dropped, one_off_by_owner)


def stored_plan(
    wh: Warehouse,
    config: AttributionConfig | None = None,
    findings: Sequence[Finding] | None = None,
) -> Plan:
    """The plan of the stored open findings (what the last ``mlcost insights`` found) over the
    data's own window: what the report, the API and the dashboard show, equal to ``mlcost
    insights --plan`` after that run. ``findings``: plan these instead of the stored ones."""
    from mlcost.insights._store import load_findings

    config = config or AttributionConfig()
    found = load_findings(wh, config) if findings is None else findings
    return build_plan(Context(wh, config), found)


def _row(act: str, f: Finding, rids: list[str], saving: Saving, **extra: Any) -> dict[str, Any]:
    return {
        "action": act,
        "resource_id": f.resource_id if act != "commit" else None,
        "resource_ids": rids,
        "owner": f.owner,
        "monthly_saving": saving.as_dict(),
        "finding_ids": [f.id],
        "text": f.action,
        **extra,
    }
