"""ground_truth.json: every planted waste case with the money it wasted.

The money is computed from the bill rows the generator wrote (EffectiveCost, USD), hour by
hour, using the definition written next to each kind below, so that a test can recompute it
from the output files alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from mlcost.demo._focus import Bill, money
from mlcost.demo._org import TEAM_VALUE_VARIANTS, Host, Org, ts
from mlcost.demo._prices import SKUS
from mlcost.demo._telemetry import is_work_hour
from mlcost.demo._workloads import early_stop_hosts, metric_history

TEAM_KEYS = ("team", "Team", "team_name")
TARGET_UTILIZATION = 60.0  # % a right-sized endpoint replica is run at
DEFINITIONS = {
    "idle_gpu_nights_weekends": "EffectiveCost of the hours outside 08:00-19:00 UTC Mon-Fri, "
    "in which every GPU of the host reported 0% utilization",
    "forgotten_dev_instance": "EffectiveCost of every hour after the last hour with GPU use",
    "idle_gpus_in_busy_instance": "per hour, EffectiveCost x the host's GPUs that no process "
    "used (0% utilization in every sample) / its GPU count",
    "spot_eligible_on_demand": "per hour, EffectiveCost minus the spot price of the same "
    "instance type (the job checkpoints, so it can resume after an interruption)",
    "runaway_job": "EffectiveCost of the hours after the run's params.max_hours",
    "overprovisioned_endpoint": "EffectiveCost of the replicas beyond ceil(peak summed "
    "utilization / target utilization), pro rata",
    "oversized_gpu": "EffectiveCost minus the on-demand price of the smallest GPU that fits "
    "the model's memory, for the same hours",
    "cross_region_transfer": "EffectiveCost of data-transfer rows between two regions",
    "spend_anomaly": "EffectiveCost of the burst, which no budget or plan expected",
    "early_stop": "EffectiveCost of the run's hours from the first whole hour after the "
    "evaluation where early stopping (patience 5, min_delta 0.5 %) would have stopped it",
    "untagged_share": "EffectiveCost of rows whose Tags have no team key (team, Team, "
    "team_name): untagged resources, shared costs, support, credits and tax",
}


def _span(hours: list[int]) -> tuple[str, str]:
    return f"{ts(hours[0]):%Y-%m-%dT%H:%M:%SZ}", f"{ts(hours[-1] + 1):%Y-%m-%dT%H:%M:%SZ}"


def _case(
    kind: str, hosts: list[Host], hours: list[int], wasted: float, **details: Any
) -> dict[str, Any]:
    start, end = _span(sorted(hours)) if hours else ("", "")
    return {
        "kind": kind,
        "resource_ids": [h.resource_id for h in hosts],
        "resource_names": [h.name for h in hosts],
        "provider": hosts[0].sku.provider if hosts else "aws",
        "team": hosts[0].team if hosts else None,
        "start": start,
        "end": end,
        "wasted_usd": round(wasted, 6),
        "details": details,
    }


def build_truth(
    org: Org, bill: Bill, cross_region: list[float], endpoint_util: dict[str, list[float]]
) -> dict[str, Any]:
    hosts = {h.name: h for h in org.hosts}
    cost = bill.host_hours
    cases: list[dict[str, Any]] = []
    idle_rules: dict[str, Callable[[Host, int], bool]] = {
        "idle_gpu_nights_weekends": lambda host, h: not is_work_hour(h),
        "forgotten_dev_instance": lambda host, h: h >= math.ceil(max(b for _, b in host.busy)),
    }
    for kind, is_idle in idle_rules.items():
        for name in org.planted.get(kind, []):
            idle = [(h, c) for h, c in cost[name] if is_idle(hosts[name], h)]
            hours = [h for h, _ in idle]
            wasted = sum(c for _, c in idle)
            cases.append(_case(kind, [hosts[name]], hours, wasted, idle_hours=len(idle)))
    for name in org.planted.get("idle_gpus_in_busy_instance", []):
        host = hosts[name]
        share = len(host.idle_gpus) / host.sku.gpu_count
        rows = cost[name]
        cases.append(
            _case(
                "idle_gpus_in_busy_instance",
                [host],
                [h for h, _ in rows],
                sum(c * share for _, c in rows),
                idle_gpu_indices=list(host.idle_gpus),
                idle_gpu_uuids=[host.gpu_uuids[g] for g in host.idle_gpus],
                gpu_count=host.sku.gpu_count,
            )
        )
    for name in org.planted.get("spot_eligible_on_demand", []):
        spot = hosts[name].sku.spot
        rows = cost[name]
        cases.append(
            _case(
                "spot_eligible_on_demand",
                [hosts[name]],
                [h for h, _ in rows],
                sum(money(c - spot) for _, c in rows),
                spot_price_usd_per_hour=spot,
                on_demand_price_usd_per_hour=hosts[name].sku.on_demand,
            )
        )
    for name in org.planted.get("runaway_job", []):
        host = hosts[name]
        cutoff = host.start_h + math.ceil(host.work_hours)
        over = [(h, c) for h, c in cost[name] if h >= cutoff]
        cases.append(
            _case(
                "runaway_job",
                [host],
                [h for h, _ in over],
                sum(c for _, c in over),
                max_hours=host.work_hours,
                ran_hours=len(cost[name]),
            )
        )
    names = org.planted.get("overprovisioned_endpoint", [])
    if names:
        series = [endpoint_util[n] for n in names]
        peak = max(sum(v) for v in zip(*series, strict=True))
        needed = max(1, math.ceil(peak / TARGET_UTILIZATION))
        total = sum(c for n in names for _, c in cost[n])
        eps = [hosts[n] for n in names]
        cases.append(
            _case(
                "overprovisioned_endpoint",
                eps,
                [h for h, _ in cost[names[0]]],
                total * (len(names) - needed) / len(names),
                replicas=len(names),
                replicas_needed=needed,
                peak_summed_utilization_pct=round(peak, 2),
                target_utilization_pct=TARGET_UTILIZATION,
            )
        )
    small = SKUS["Standard_NC4as_T4_v3"]
    for name in org.planted.get("oversized_gpu", []):
        rows = cost[name]
        cases.append(
            _case(
                "oversized_gpu",
                [hosts[name]],
                [h for h, _ in rows],
                sum(money(c - small.on_demand) for _, c in rows),
                alternative_instance_type=small.instance_type,
                alternative_gpu_memory_mib=small.gpu_memory_mib,
                alternative_price_usd_per_hour=small.on_demand,
            )
        )
    cases.append(
        {
            "kind": "cross_region_transfer",
            "resource_ids": ["arn:aws:s3:::acme-datasets-usw2"],
            "resource_names": ["acme-datasets-usw2"],
            "provider": "aws",
            "team": "llm-platform",
            "start": f"{ts(0):%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{ts(org.hours):%Y-%m-%dT%H:%M:%SZ}",
            "wasted_usd": round(sum(cross_region), 6),
            "details": {"from_region": "us-west-2", "to_region": "us-east-1"},
        }
    )
    names = org.planted.get("spend_anomaly", [])
    if names:
        rows = [(h, c) for n in names for h, c in cost[n]]
        cases.append(
            _case(
                "spend_anomaly",
                [hosts[n] for n in names],
                [h for h, _ in rows],
                sum(c for _, c in rows),
            )
        )
    for host in early_stop_hosts(org):
        _, stop = metric_history(host, planted=True)
        assert stop is not None
        after = [(h, c) for h, c in cost[host.name] if h >= stop]
        cases.append(
            _case(
                "early_stop",
                [host],
                [h for h, _ in after],
                sum(c for _, c in after),
                metric="eval_loss",
                stop_hour=f"{ts(stop):%Y-%m-%dT%H:%M:%SZ}",
            )
        )
    all_rows = [r for rows in bill.rows.values() for r in rows]
    total = sum(r["EffectiveCost"] for r in all_rows)
    untagged = [r for r in all_rows if not _has_team(r.get("Tags"))]
    untagged_usd = sum(r["EffectiveCost"] for r in untagged)
    cases.append(
        {
            "kind": "untagged_share",
            "resource_ids": [],
            "resource_names": [],
            "provider": None,
            "team": None,
            "start": f"{ts(0):%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{ts(org.hours):%Y-%m-%dT%H:%M:%SZ}",
            "wasted_usd": round(untagged_usd, 6),
            "details": {"share": round(untagged_usd / total, 6), "team_keys": list(TEAM_KEYS)},
        }
    )
    by_kind: dict[str, float] = {}
    for c in cases:
        by_kind[c["kind"]] = round(by_kind.get(c["kind"], 0.0) + c["wasted_usd"], 6)
    by_provider = {
        p: round(sum(r["EffectiveCost"] for r in rows), 6) for p, rows in sorted(bill.rows.items())
    }
    return {
        "seed": org.seed,
        "days": org.days,
        "scale": org.scale,
        "currency": "USD",
        "metric": "EffectiveCost",
        "total_usd": round(total, 6),
        "by_provider_usd": by_provider,
        "teams": list(org.teams),
        "tag_normalization": {
            "keys": dict.fromkeys(TEAM_KEYS, "team"),
            "values": {v: team for team, vs in TEAM_VALUE_VARIANTS.items() for v in vs},
        },
        "definitions": DEFINITIONS,
        "wasted_usd_by_kind": by_kind,
        "cases": cases,
    }


def _has_team(tags: str | None) -> bool:
    return bool(tags) and any(f'"{k}":' in str(tags) for k in TEAM_KEYS)
