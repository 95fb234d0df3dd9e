"""Cheapest fit: the cheapest catalog offers whose GPUs hold a job, and its cost to train.

Wall time comes from the GPU's dense BF16 tensor throughput (datasheet, ``gpu_specs.csv``) times
an assumed model-FLOPs utilization (MFU, default 0.40; large dense-transformer runs report
0.35-0.55, e.g. PaLM 46%, Chowdhery et al. 2022), and training FLOPs ``6 x params x tokens``
(Kaplan et al. 2020).

A GPU is offered only for the number format the job computes in (``precision``): bf16 from
Ampere, fp8 from Ada and Hopper, 8/4-bit kernels from Turing (``mlcost.catalog.gpu_formats``).
When the job's own memory (without a CUDA context) would fill under a tenth of the smallest GPU
that holds it, the GPU would sit nine-tenths empty: CPU instances that hold it come first, with
their time and cost at the same MFU of their vector units' peak.

    >>> plan = cheapest_fit(30 * 2**30, limit=3)
    >>> plan.fits[0].gpu_memory_gib >= 30
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mlcost.catalog import PURCHASES, CpuOffer, cpu_offers, gpu_formats, gpu_specs, offers
from mlcost.errors import InvalidInput, NoFit

__all__ = ["CPU_SHARE", "DEFAULT_MFU", "PRECISION_FORMAT", "Fit", "GpuPlan", "cheapest_fit"]

DEFAULT_MFU = 0.40
GIB = 2**30
CPU_SHARE = 0.10  # a job filling under this share of the smallest fitting GPU runs on a CPU
# The number format each planner precision computes in.
PRECISION_FORMAT: dict[str, str] = {
    "fp32": "fp32",
    "amp-fp16": "fp16",
    "amp-bf16": "bf16",
    "bf16": "bf16",
    "fp8": "fp8",
    "int8": "int8",
    "int4": "int4",
}


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
    device: str = "gpu"  # "cpu": a CPU instance (gpu names its processor, gpu_count is 0)


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
    precision: str | None = None,
    cpu_need_bytes: int | None = None,
) -> GpuPlan:
    """Cheapest offers (per purchase option) whose GPUs each hold ``per_gpu_bytes`` with
    ``headroom`` (share of GPU memory kept free). A job on more GPUs than one instance has
    spans several nodes; the price and the note say so. ``precision`` keeps only GPUs that
    compute its format; ``cpu_need_bytes`` (the job without a CUDA context) lets a CPU
    instance come first when a GPU would be waste."""
    if per_gpu_bytes <= 0 or gpus < 1 or not 0 <= headroom < 1 or not 0 < mfu <= 1:
        raise InvalidInput(
            "memory need and GPU count must be positive, headroom in [0, 1), MFU in (0, 1]",
            fix="e.g. --gpus 8 --headroom 0.05 --mfu 0.4",
        )
    bad = [p for p in purchases if p not in PURCHASES]
    if bad:
        raise InvalidInput(f"unknown purchase option(s) {bad}", fix=f"use {', '.join(PURCHASES)}")
    if precision is not None and precision not in PRECISION_FORMAT:
        raise InvalidInput(
            f"unknown precision {precision!r}", fix=f"use {', '.join(PRECISION_FORMAT)}"
        )
    fmt = PRECISION_FORMAT.get(precision or "")
    specs = gpu_specs()
    fits: list[Fit] = []
    largest = 0.0
    unsupported: set[str] = set()
    max_count = max(o.gpu_count for o in offers())
    for o in offers():
        if cloud is not None and o.cloud != cloud:
            continue
        formats = gpu_formats(o.gpu)
        if fmt is not None and formats is not None and fmt not in formats:
            unsupported.add(o.gpu)
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
    cpu_first = False
    if cpu_need_bytes is not None and gpus == 1:
        smallest = min((f.gpu_memory_gib for f in fits), default=math.inf)
        cpu_first = cpu_need_bytes <= CPU_SHARE * smallest * GIB
        if cpu_first:
            fits[:0] = _cpu_fits(cpu_need_bytes, purchases, headroom, cloud, train_flops, mfu, fmt)
    if not fits:
        raise NoFit(
            f"No GPU in the catalog holds {per_gpu_bytes / GIB:.1f} GiB per GPU with "
            f"{headroom:.0%} headroom (largest: {largest:.0f} GiB). Shard across more GPUs "
            "(--gpus N --sharding zero3), use activation checkpointing, or quantize (--mode qlora)."
        )
    key: Any = (
        (lambda f: (f.train_cost, f.usd_per_hour)) if train_flops else (lambda f: (f.usd_per_hour,))
    )
    best: list[Fit] = []
    for purchase in purchases:
        # CPU offers first when a GPU would be waste (sorted() keeps that order).
        ranked = sorted(
            (
                f
                for f in fits
                if f.purchase == purchase and (not train_flops or f.train_cost is not None)
            ),
            key=lambda f: (f.device != "cpu", *key(f)),
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
    if unsupported:
        notes.append(
            f"Left out for {precision} (no {fmt} on their architecture): "
            f"{', '.join(sorted(unsupported))}."
        )
    if cpu_first:
        notes.append(
            f"The job needs {cpu_need_bytes / GIB:.2f} GiB: under {CPU_SHARE:.0%} of the "  # type: ignore[operator]
            "smallest GPU that holds it, so CPU instances come first."
        )
    return GpuPlan(round(per_gpu_bytes / GIB, 3), gpus, tuple(best), tuple(notes), mfu)


def _cpu_fits(
    need: int,
    purchases: tuple[str, ...],
    headroom: float,
    cloud: str | None,
    train_flops: float | None,
    mfu: float,
    fmt: str | None,
) -> list[Fit]:
    """CPU instances whose memory holds the job, with time and cost at ``mfu`` of their peak
    (AMX bf16 where the job computes in bf16, fp32 vector units otherwise)."""
    out = []
    for c in cpu_offers():
        usable = c.memory_gib * (1 - headroom)
        if (cloud is not None and c.cloud != cloud) or usable * GIB < need:
            continue
        for purchase in purchases:
            price = c.price(purchase)
            if price is None:
                continue
            hours = cost = None
            if train_flops:
                hours = train_flops / (_cpu_tflops(c, fmt) * 1e12 * mfu) / 3600
                cost = round(hours * price, 2)
            out.append(
                Fit(
                    c.cloud,
                    c.instance_type,
                    c.region,
                    c.cpu,
                    0,
                    c.memory_gib,
                    1,
                    purchase,
                    round(price, 6),
                    round(usable - need / GIB, 2),
                    hours,
                    cost,
                    device="cpu",
                )
            )
    return out


def _cpu_tflops(c: CpuOffer, fmt: str | None) -> float:
    return c.peak_bf16_tflops if fmt == "bf16" else c.peak_fp32_tflops
