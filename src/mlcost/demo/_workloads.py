"""What the schedulers saw: Slurm sacct, OpenCost /allocation and experiment-tracker runs."""

from __future__ import annotations

import json
import math
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from mlcost.demo._org import START, Host, Org, ts
from mlcost.demo._telemetry import _pod

# sacct --parsable2 --allocations --format=<these> (cluster time zone: UTC).
SACCT_FIELDS = "|".join(
    (
        "JobID",
        "JobName",
        "User",
        "Account",
        "Partition",
        "AllocTRES",
        "NodeList",
        "Submit",
        "Start",
        "End",
        "Elapsed",
        "State",
        "ExitCode",
    )
)


def _elapsed(seconds: int) -> str:
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d}-{h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"


def write_sacct(org: Org, path: Path) -> int:
    """One line per job allocation on the Slurm nodes, in start order."""
    rng = random.Random(f"mlcost-demo/{org.seed}/slurm")
    jobs = sorted((a, b, h) for h in org.hosts if h.profile == "slurm" for a, b in h.busy)
    users = ("apatel", "bchen", "cmuller", "dkim", "eokafor")
    names = ("pretrain-ablation", "rlhf-ppo", "eval-harness", "tokenizer-study", "moe-sweep")
    lines = [SACCT_FIELDS]
    for n, (a, b, host) in enumerate(jobs):
        start, end = ts(a).replace(microsecond=0), ts(b).replace(microsecond=0)
        submit = start - timedelta(minutes=rng.randint(0, 90))
        state, code = rng.choices(
            [
                ("COMPLETED", "0:0"),
                ("FAILED", "1:0"),
                ("CANCELLED by 1003", "0:15"),
                ("TIMEOUT", "0:0"),
            ],
            weights=[80, 8, 7, 5],
        )[0]
        tres = "billing=96,cpu=96,gres/gpu=8,mem=1152G,node=1"
        lines.append(
            f"{41000 + n}|{rng.choice(names)}|{rng.choice(users)}|llm-platform|a100|{tres}|"
            f"{host.name}|{submit:%Y-%m-%dT%H:%M:%S}|{start:%Y-%m-%dT%H:%M:%S}|"
            f"{end:%Y-%m-%dT%H:%M:%S}|{_elapsed(int((end - start).total_seconds()))}|{state}|{code}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def write_opencost(org: Org, cluster: str, path: Path) -> int:
    """The /allocation response for window=<days>d, aggregate=pod, step=1d."""
    hosts = [h for h in org.hosts if h.cluster == cluster]
    sets: list[dict[str, Any]] = []
    count = 0
    for d in range(org.days):
        day: dict[str, Any] = {}
        for host in hosts:
            hours = [h for h in host.hours() if d * 24 <= h < d * 24 + 24]
            if not hours:
                continue
            ns, pod = _pod(host)
            price = host.sku.spot if host.purchase == "spot" else host.sku.on_demand
            cost = price * len(hours)
            n_gpu = host.sku.gpu_count
            labels = {"app": host.project, "team": host.team or "", "model": host.model}
            day[pod] = {
                "name": pod,
                "properties": {
                    "cluster": cluster,
                    "node": host.name,
                    "container": "main",
                    "controller": host.project,
                    "controllerKind": "deployment" if host.kind == "inference" else "job",
                    "namespace": ns,
                    "pod": pod,
                    "labels": labels,
                },
                "window": {
                    "start": f"{ts(d * 24):%Y-%m-%dT%H:%M:%SZ}",
                    "end": f"{ts(d * 24 + 24):%Y-%m-%dT%H:%M:%SZ}",
                },
                "start": f"{ts(hours[0]):%Y-%m-%dT%H:%M:%SZ}",
                "end": f"{ts(hours[-1] + 1):%Y-%m-%dT%H:%M:%SZ}",
                "minutes": 60.0 * len(hours),
                "cpuCoreHours": round(4.0 * len(hours), 4),
                "cpuCost": round(0.12 * cost, 6),
                "gpuCount": float(n_gpu),
                "gpuHours": float(n_gpu * len(hours)),
                "gpuCost": round(0.8 * cost, 6),
                "ramByteHours": round(16 * 2**30 * len(hours), 1),
                "ramCost": round(0.08 * cost, 6),
                "pvCost": 0.0,
                "networkCost": 0.0,
                "loadBalancerCost": 0.0,
                "sharedCost": 0.0,
                "externalCost": 0.0,
                "totalCost": round(cost, 6),
            }
            count += 1
        sets.append(day)
    body = {"code": 200, "status": "success", "data": sets}
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return count


def _run_of(host: Host, rng: random.Random) -> dict[str, Any]:
    start, end = ts(host.start_h), ts(host.end_h)
    params: dict[str, Any] = {
        "learning_rate": round(10 ** rng.uniform(-5, -3), 7),
        "batch_size": rng.choice([64, 128, 256, 512]),
        "gpus": host.sku.gpu_count,
    }
    if host.kind == "fine-tuning":
        params["checkpoint_every_steps"] = 500  # resumable: a spot interruption costs little
    record: dict[str, Any] = {
        "experiment": host.project,
        "run_id": f"{rng.getrandbits(64):016x}",
        "run_name": host.name,
        "kind": host.kind,
        "model": host.model or None,
        "team": host.team,
        "resource_id": host.resource_id,
        "instance_type": host.sku.instance_type,
        "start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "end": f"{end:%Y-%m-%dT%H:%M:%SZ}",
        "status": "FINISHED",
        "params": params,
        "metrics": {"eval_loss": round(rng.uniform(0.8, 2.5), 4)},
    }
    if host.work_hours:
        record["params"]["max_hours"] = host.work_hours
        record["status"] = "KILLED"
    return record


# Early stopping (planted waste): evaluations of eval_loss every half hour of the run. Runs
# that were stopped well improve >= 1.5 % per evaluation to the end; planted runs fall 3 % per
# evaluation until the plateau, then wobble 0.2 % (under the 0.5 % that counts as progress).
PATIENCE = 5
EARLY_STOP_RUNS = 2


def early_stop_hosts(org: Org) -> list[Host]:
    """The runs planted as training on past their plateau (their own rng: nothing else moves)."""
    taken = {n for names in org.planted.values() for n in names}
    eligible = [
        h
        for h in org.hosts
        if h.kind in ("training", "fine-tuning")
        and h.profile != "slurm"
        and h.name not in taken
        and not h.work_hours
        and h.end_h - h.start_h >= 12
        # worth watching: >= 1,000 USD a run (the insights ignore savings under 100 USD a month)
        and (h.end_h - h.start_h) * h.sku.on_demand >= 1000
    ]
    rng = random.Random(f"mlcost-demo/{org.seed}/early-stop")
    return sorted(rng.sample(eligible, min(EARLY_STOP_RUNS, len(eligible))), key=lambda h: h.name)


def metric_history(host: Host, planted: bool) -> tuple[list[dict[str, Any]], int | None]:
    """eval_loss points of a run, and for a planted run the hour early stopping ends it.

    The stop point is the ``PATIENCE``-th evaluation after the last one that improved; its hour
    is the first whole hour after it (the hours the run should not have paid for start there).
    """
    rng = random.Random(f"mlcost-demo/{host.name}/metrics")
    hours = host.end_h - host.start_h
    n = max(20, min(200, 2 * hours))
    base = round(rng.uniform(1.5, 3.0), 4)
    plateau = round(n * rng.uniform(0.3, 0.55)) if planted else n
    values = []
    for k in range(n):
        if k <= plateau:
            values.append(base * (0.97 if planted else 0.985) ** k)
        else:
            values.append(values[plateau] * (1.002 if k % 2 else 0.998))
    points = [
        {
            "step": 100 * (k + 1),
            "time": f"{ts(host.start_h + hours * (k + 1) / n):%Y-%m-%dT%H:%M:%SZ}",
            "value": round(v, 6),
        }
        for k, v in enumerate(values)
    ]
    if not planted:
        return points, None
    # The stop evaluation's time as written (whole seconds), then the first hour from it.
    stop = ts(host.start_h + hours * (plateau + PATIENCE + 1) / n).replace(microsecond=0)
    return points, math.ceil((stop - START).total_seconds() / 3600)


def write_runs(org: Org, path: Path) -> int:
    """Experiment-tracker run records, one JSON object a line."""
    rng = random.Random(f"mlcost-demo/{org.seed}/runs")
    kinds = {"training", "fine-tuning", "sweep"}
    planted = {h.name for h in early_stop_hosts(org)}
    runs = []
    for h in org.hosts:
        if h.kind in kinds and h.profile != "slurm":
            run = _run_of(h, rng)
            if h.kind != "sweep":
                run["metric_history"] = {"eval_loss": metric_history(h, h.name in planted)[0]}
            runs.append(run)
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in runs), encoding="utf-8")
    return len(runs)
