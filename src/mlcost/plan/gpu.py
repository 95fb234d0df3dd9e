"""Cheapest fit: the cheapest catalog offers whose GPUs hold a job, and its cost to train.

Wall time comes from the GPU's dense BF16 tensor throughput (datasheet, ``gpu_specs.csv``) times
an assumed model-FLOPs utilization (MFU, default 0.40; large dense-transformer runs report
0.35-0.55, e.g. PaLM 46%, Chowdhery et al. 2022), and training FLOPs ``6 x params x tokens``
(Kaplan et al. 2020).

    >>> plan = cheapest_fit(30 * 2**30, limit=3)
    >>> plan.fits[0].gpu_memory_gib >= 30
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mlcost.catalog import PURCHASES, gpu_specs, offers
from mlcost.errors import InvalidInput, NoFit

__all__ = ["DEFAULT_MFU", "Fit", "GpuPlan", "cheapest_fit"]

DEFAULT_MFU = 0.40
GIB = 2**30


@dataclass(frozen=True)
class Fit:
    """One offer that holds the job; prices and costs in ``currency``."""

    cloud: str
    instance_type: str
    region: str
    gpu: str
    gpu_count: int
    gpu_memory_gib: float
    nodes: int
    purchase: str
    usd_per_hour: float
    headroom_gib: float
    train_hours: float | None
    train_cost: float | None
    currency: str = "USD"


@dataclass(frozen=True)
class GpuPlan:
    need_per_gpu_gib: float
    gpus: int
    fits: tuple[Fit, ...]
    notes: tuple[str, ...]
    mfu: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fits": [asdict(f) for f in self.fits]}


def cheapest_fit(
    per_gpu_bytes: int,
    *,
    gpus: int = 1,
    purchases: tuple[str, ...] = ("ondemand",),
    headroom: float = 0.05,
    cloud: str | None = None,
    limit: int = 10,
    train_flops: float | None = None,
    mfu: float = DEFAULT_MFU,
) -> GpuPlan:
    """Cheapest offers (per purchase option) whose GPUs each hold ``per_gpu_bytes`` with
    ``headroom`` (share of GPU memory kept free). A job on more GPUs than one instance has
    spans several nodes; the price and the note say so."""
    if per_gpu_bytes <= 0 or gpus < 1 or not 0 <= headroom < 1 or not 0 < mfu <= 1:
        raise InvalidInput(
            "memory need and GPU count must be positive, headroom in [0, 1), MFU in (0, 1]",
            fix="e.g. --gpus 8 --headroom 0.05 --mfu 0.4",
        )
    bad = [p for p in purchases if p not in PURCHASES]
    if bad:
        raise InvalidInput(f"unknown purchase option(s) {bad}", fix=f"use {', '.join(PURCHASES)}")
    specs = gpu_specs()
    fits: list[Fit] = []
    largest = 0.0
    max_count = max(o.gpu_count for o in offers())
    for o in offers():
        if cloud is not None and o.cloud != cloud:
            continue
        mem = o.gpu_memory_gib or 0.0
        largest = max(largest, mem)
        usable = mem * (1 - headroom)
        if usable * GIB < per_gpu_bytes:
            continue
        if gpus > o.gpu_count and (gpus <= max_count or o.gpu_count < 8):
            continue  # one node suffices elsewhere; multi-node only with full 8-GPU nodes
        nodes = math.ceil(gpus / o.gpu_count)
        for purchase in purchases:
            price = o.price(purchase)  # type: ignore[arg-type]
            if price is None:
                continue
            hours = cost = None
            spec = specs.get(o.gpu)
            if train_flops and spec and spec.bf16_dense_tflops:
                rate = nodes * o.gpu_count * spec.bf16_dense_tflops * 1e12 * mfu
                hours = train_flops / rate / 3600
                cost = round(hours * price * nodes, 2)
            fits.append(
                Fit(
                    o.cloud,
                    o.instance_type,
                    o.region + (f"/{o.zone}" if o.zone else ""),
                    o.gpu,
                    o.gpu_count,
                    mem,
                    nodes,
                    purchase,
                    round(price * nodes, 6),
                    round(usable - per_gpu_bytes / GIB, 2),
                    hours,
                    cost,
                )
            )
    if not fits:
        raise NoFit(
            f"No GPU in the catalog holds {per_gpu_bytes / GIB:.1f} GiB per GPU with "
            f"{headroom:.0%} headroom (largest: {largest:.0f} GiB). Shard across more GPUs "
            "(--gpus N --sharding zero3), use activation checkpointing, or quantize (--mode qlora)."
        )
    key = (lambda f: (f.train_cost, f.usd_per_hour)) if train_flops else (lambda f: f.usd_per_hour)
    best: list[Fit] = []
    for purchase in purchases:
        ranked = sorted(
            (
                f
                for f in fits
                if f.purchase == purchase and (not train_flops or f.train_cost is not None)
            ),
            key=key,
        )
        seen: set[tuple[str, str]] = set()
        for f in ranked:
            if (f.cloud, f.instance_type) not in seen:
                seen.add((f.cloud, f.instance_type))
                best.append(f)
            if len(seen) == limit:
                break
    notes = []
    if any(f.nodes > 1 for f in best):
        notes.append(f"{gpus} GPUs need more than one node on some offers (see 'nodes').")
    if train_flops:
        notes.append(
            f"Wall time assumes {mfu:.0%} MFU of dense BF16 peak; offers without a "
            "known throughput are left out."
        )
    return GpuPlan(round(per_gpu_bytes / GIB, 3), gpus, tuple(best), tuple(notes), mfu)
