"""GPU telemetry of the demo hosts, as nvidia-smi CSV logs and DCGM-exporter OpenMetrics.

Every billed GPU host-hour gets samples and no other hour does, so telemetry covers exactly
the billed GPU resources. Utilization follows the host's ``profile``:

- ``train``/``sweep``: near full, dips at checkpoints (every 2 h) and at data stalls;
- ``slurm``: like ``train`` while a job runs on the node, else 0;
- ``diurnal``/``overprovisioned``/``small_model``: inference load peaking at 15:00 UTC,
  lower at weekends, at different heights;
- ``notebook``: bursty use in working hours (never exactly 0), exactly 0 at night and weekends;
- ``forgotten``: notebook-like during its busy span, then exactly 0;
- ``batch``/``data``: steady or spiky high use.

GPUs in ``host.idle_gpus`` report exactly 0 % and no memory used whatever the profile: a job
that uses two GPUs of an eight-GPU instance leaves six that no process ever touches.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlcost.demo._org import WORK_END_H, WORK_START_H, Host, ts
from mlcost.demo._prices import NVIDIA_NAME

DRIVER_VERSION = "550.90.07"
NVIDIA_SMI_HEADER = (
    "timestamp, index, uuid, name, utilization.gpu [%], memory.used [MiB], "
    "memory.total [MiB], power.draw [W]"
)
DCGM_HELP = {
    "DCGM_FI_DEV_GPU_UTIL": "GPU utilization (in %).",
    "DCGM_FI_DEV_FB_USED": "Framebuffer memory used (in MiB).",
    "DCGM_FI_DEV_FB_FREE": "Framebuffer memory free (in MiB).",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "Ratio of time the graphics engine is active.",
}


@dataclass(frozen=True)
class Sample:
    hour: float  # hours after START
    gpu: int
    util: int  # percent
    mem_used: int  # MiB
    power: float  # W


def is_work_hour(hour: int) -> bool:
    t = ts(hour)
    return t.weekday() < 5 and WORK_START_H <= t.hour < WORK_END_H


def _load(hour: float) -> float:
    """Inference traffic, 0.05..1, peaking at 15:00 UTC, lower at weekends."""
    t = ts(hour)
    hod = t.hour + t.minute / 60
    load = 0.5 + 0.45 * math.sin(2 * math.pi * (hod - 9) / 24)
    return max(0.05, load * (0.6 if t.weekday() >= 5 else 1.0))


def _util(host: Host, t: float, rng: random.Random) -> tuple[float, float]:
    """(utilization %, memory used as a share of the GPU's memory) at hour t."""
    p = host.profile
    if p == "slurm" or p == "forgotten":
        if not any(a <= t < b for a, b in host.busy):
            return 0.0, 0.0
        p = "train" if p == "slurm" else "notebook_busy"
    if p in ("train", "sweep"):
        if (t % 2.0) < 0.1:  # checkpoint write
            return rng.uniform(5, 25), 0.9
        if rng.random() < 0.03:  # data loader stall
            return rng.uniform(20, 50), 0.9
        return rng.uniform(93, 99.5) if p == "train" else rng.uniform(70, 95), 0.9
    if p == "diurnal":
        return min(99.0, 80 * _load(t) + rng.uniform(-4, 4)), 0.55
    if p == "overprovisioned":
        return max(1.0, 16 * _load(t) + rng.uniform(-1, 1)), 0.3
    if p == "small_model":
        # A small model: 6-10 % of an A100, so a T4 keeps up (the rightsize throughput check),
        # and never under the 5 % that reads as idle.
        return 6.0 + 3.5 * _load(t) + rng.uniform(0, 0.5), -3072.0
    if p == "notebook":
        if not is_work_hour(int(t)):
            return 0.0, 0.25  # kernel still holds its memory
        p = "notebook_busy"
    if p == "notebook_busy":
        return (rng.uniform(30, 90) if rng.random() < 0.4 else rng.uniform(1, 10)), 0.25
    if p == "batch":
        return rng.uniform(80, 96), 0.7
    if p == "data":
        return rng.uniform(30, 85), 0.5
    raise ValueError(f"unknown profile {p!r}")


def samples(host: Host, seed: int, minutes: int) -> Iterator[Sample]:
    """All samples of a host, in time order, GPU by GPU at each time."""
    rng = random.Random(f"mlcost-demo/{seed}/telemetry/{host.name}")
    total = host.sku.gpu_memory_mib
    tdp = NVIDIA_NAME[host.sku.gpu_model][1]
    per_hour = 60 // minutes
    for h in host.hours():
        for k in range(per_hour):
            t = h + k * minutes / 60
            for g in range(host.sku.gpu_count):
                if g in host.idle_gpus:
                    yield Sample(t, g, 0, 0, round(tdp * 0.12, 2))  # idle power draw
                    continue
                u, m = _util(host, t, rng)
                used = int(-m) if m < 0 else int(total * m)
                if used:
                    used = min(total, max(0, used + rng.randint(-64, 64)))
                util = max(0, min(100, round(u))) if u > 0 else 0
                if u > 0 and util == 0:
                    util = 1  # "never exactly 0" must survive rounding
                power = tdp * (0.12 + 0.85 * util / 100) + rng.uniform(-2, 2)
                yield Sample(t, g, util, used, round(max(power, 10.0), 2))


def _stamp(hour: float, fmt: str) -> str:
    t = ts(hour)
    if fmt == "smi":
        return t.strftime("%Y/%m/%d %H:%M:%S.000")
    return str(int(t.timestamp()))


def write_nvidia_smi(host: Host, path: Path, seed: int, minutes: int) -> int:
    """One host's log, as `nvidia-smi --query-gpu=... --format=csv -l N` writes it."""
    name = NVIDIA_NAME[host.sku.gpu_model][0]
    total = host.sku.gpu_memory_mib
    lines = [NVIDIA_SMI_HEADER]
    for s in samples(host, seed, minutes):
        lines.append(
            f"{_stamp(s.hour, 'smi')}, {s.gpu}, {host.gpu_uuids[s.gpu]}, {name}, {s.util} %, "
            f"{s.mem_used} MiB, {total} MiB, {s.power:.2f} W"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def _pod(host: Host) -> tuple[str, str]:
    namespace = host.team or "default"
    return namespace, f"{host.project or host.name}-{host.name.rsplit('-', 1)[-1]}"


def write_dcgm(
    hosts: list[Host], path: Path, seed: int, minutes: int
) -> tuple[int, dict[str, list[float]]]:
    """One cluster's DCGM-exporter metrics as OpenMetrics text for promtool.

    Each metric family is contiguous and each series is in time order, as OpenMetrics and
    ``promtool tsdb create-blocks-from openmetrics`` require. Returns the number of samples
    and, per host, the mean utilization over its GPUs at each sample time.
    """
    families: dict[str, list[str]] = {k: [] for k in DCGM_HELP}
    means: dict[str, list[float]] = {}
    for host in hosts:
        name = NVIDIA_NAME[host.sku.gpu_model][0]
        ns, pod = _pod(host)
        total = host.sku.gpu_memory_mib
        labels = [
            f'gpu="{g}",UUID="{u}",pci_bus_id="00000000:{16 + g:02X}:00.0",device="nvidia{g}",'
            f'modelName="{name}",Hostname="{host.name}",DCGM_FI_DRIVER_VERSION="{DRIVER_VERSION}",'
            f'container="main",namespace="{ns}",pod="{pod}"'
            for g, u in enumerate(host.gpu_uuids)
        ]
        per_gpu: list[list[str]] = [[] for _ in host.gpu_uuids]
        per_gpu_fb: list[list[str]] = [[] for _ in host.gpu_uuids]
        per_gpu_free: list[list[str]] = [[] for _ in host.gpu_uuids]
        per_gpu_gr: list[list[str]] = [[] for _ in host.gpu_uuids]
        acc: list[float] = []
        for s in samples(host, seed, minutes):
            stamp = _stamp(s.hour, "om")
            per_gpu[s.gpu].append(f"{{{labels[s.gpu]}}} {s.util} {stamp}")
            per_gpu_fb[s.gpu].append(f"{{{labels[s.gpu]}}} {s.mem_used} {stamp}")
            per_gpu_free[s.gpu].append(f"{{{labels[s.gpu]}}} {total - s.mem_used} {stamp}")
            per_gpu_gr[s.gpu].append(f"{{{labels[s.gpu]}}} {s.util * 0.0093:.4f} {stamp}")
            if s.gpu == 0:
                acc.append(0.0)
            acc[-1] += s.util / host.sku.gpu_count
        means[host.name] = acc
        for fam, rows in (
            ("DCGM_FI_DEV_GPU_UTIL", per_gpu),
            ("DCGM_FI_DEV_FB_USED", per_gpu_fb),
            ("DCGM_FI_DEV_FB_FREE", per_gpu_free),
            ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", per_gpu_gr),
        ):
            for series in rows:
                families[fam].extend(fam + line for line in series)
    count = 0
    with path.open("w", encoding="utf-8") as f:
        for fam, lines in families.items():
            f.write(f"# HELP {fam} {DCGM_HELP[fam]}\n# TYPE {fam} gauge\n")
            if lines:
                f.write("\n".join(lines) + "\n")
            count += len(lines)
        f.write("# EOF\n")
    return count, means
