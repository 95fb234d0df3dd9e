"""Right-sizing (``rightsize``): a GPU far larger than what runs on it.

A resource is oversized when its peak GPU memory stays under ``MAX_MEMORY_SHARE`` of what its
GPUs have and its peak utilization under ``MAX_UTILIZATION`` (a small model on a big GPU, the
"default to the largest GPU" habit). The alternative is the cheapest on-demand catalog offer
in the same cloud and region whose GPU memory holds the peak with ``HEADROOM`` and that has no
more GPUs: a smaller GPU, or fewer GPUs. Saving per billed hour: what the hour cost minus the
alternative's price; ``low`` takes the alternative at 1.5 x its price (a larger fallback),
``high`` the same as expected.

Throughput: a smaller GPU must still do the job's work in the job's time. The work the job
needs is its sustained utilization (the 95th percentile of its hourly mean utilization) x its
GPUs' datasheet bf16 dense TFLOPS and memory bandwidth (catalog ``gpu_spec``), times their
count; an alternative qualifies only when that need is at most ``TARGET_UTILIZATION`` of its
own TFLOPS and of its own bandwidth (both: the job may be bound by either). A job saturating a
fast GPU is therefore never sent to a slower one. Where the catalog has no datasheet figure for
either GPU, the check cannot be made and the evidence says so (the utilization gate above
still holds).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from mlcost.insights._context import Context, HourRow
from mlcost.insights._finding import Finding, Saving, finding_id, money

if TYPE_CHECKING:
    from mlcost.catalog import Offer

__all__ = [
    "HEADROOM",
    "MAX_MEMORY_SHARE",
    "MAX_UTILIZATION",
    "TARGET_UTILIZATION",
    "detect_rightsize",
    "is_oversized",
]

MAX_MEMORY_SHARE = 0.25
MAX_UTILIZATION = 0.5
HEADROOM = 1.5  # the alternative GPU holds 1.5 x the peak memory
TARGET_UTILIZATION = 0.8  # the alternative runs the job's work at <= 80 % of its throughput
MIN_MONTHLY = Decimal(100)
GIB = 2**30


def _peaks(rows: Sequence[HourRow]) -> tuple[float, float, float] | None:
    """(peak memory GiB, GPU memory GiB, peak utilization) of the measured hours."""
    mem = [r.memory_max_bytes for r in rows if r.memory_max_bytes is not None]
    tot = [r.memory_total_bytes for r in rows if r.memory_total_bytes]
    util = [r.util_max for r in rows if r.util_max is not None]
    if not mem or not tot or not util:
        return None
    return max(mem) / GIB, max(tot) / GIB, max(util)


def is_oversized(rows: Sequence[HourRow]) -> bool:
    """Peak memory and utilization both far below what the GPUs offer."""
    peaks = _peaks(rows)
    if peaks is None:
        return False
    mem, total, util = peaks
    return mem <= MAX_MEMORY_SHARE * total and util <= MAX_UTILIZATION


# Moving a CUDA workload to another accelerator family is a port, not a resize.
_OTHER_FAMILIES = ("MI300X", "TPU v5e")


def _same_family(gpu: str) -> bool:
    from mlcost.catalog import gpu_specs

    return gpu in gpu_specs() and gpu not in _OTHER_FAMILIES


def _sustained(rows: Sequence[HourRow]) -> float:
    """The 95th percentile of the hourly mean utilization (the peak where no mean)."""
    values = sorted(r.util_mean if r.util_mean is not None else r.util_max or 0.0 for r in rows)
    return values[min(len(values) - 1, int(0.95 * len(values)))] if values else 0.0


def _capacity(gpu: str | None, count: int) -> tuple[float, float] | None:
    """(bf16 dense TFLOPS, memory GB/s) of ``count`` GPUs, or None without datasheet figures."""
    from mlcost.catalog import gpu_specs

    spec = gpu_specs().get(gpu or "")
    if spec is None or not spec.bf16_dense_tflops or not spec.memory_bandwidth_gb_s:
        return None
    return spec.bf16_dense_tflops * count, spec.memory_bandwidth_gb_s * count


def _source_gpu(first: HourRow) -> str | None:
    from mlcost.catalog import gpu_specs, offers

    if first.gpu_model in gpu_specs():
        return first.gpu_model
    return next((o.gpu for o in offers() if o.instance_type == first.instance_type), None)


def _fast_enough(need: tuple[float, float] | None, o: Offer) -> bool:
    if need is None:
        return True
    have = _capacity(o.gpu, o.gpu_count)
    return have is None or (
        need[0] <= TARGET_UTILIZATION * have[0] and need[1] <= TARGET_UTILIZATION * have[1]
    )


def _alternative(
    first: HourRow, need_gib: float, price: float, need: tuple[float, float] | None
) -> Offer | None:
    from mlcost.catalog import offers

    fits = [
        o
        for o in offers()
        if o.region == first.region
        and _same_family(o.gpu)
        and o.ondemand_usd_per_hour
        and o.gpu_memory_gib
        and o.gpu_memory_gib / max(o.gpu_count, 1) >= need_gib
        and o.gpu_count <= max(first.gpu_count, 1)
        and o.ondemand_usd_per_hour < price
        and _fast_enough(need, o)
    ]
    return min(fits, key=lambda o: (o.ondemand_usd_per_hour, o.instance_type), default=None)


def _throughput(
    first: HourRow, sustained: float, alt: Offer
) -> tuple[tuple[float, float] | None, dict[str, object]]:
    """The job's need (TFLOPS, GB/s) and the evidence of the throughput check."""
    src = _source_gpu(first)
    cap = _capacity(src, max(first.gpu_count, 1))
    if cap is None:
        return None, {"throughput_check": f"not made: no datasheet TFLOPS / bandwidth for {src}"}
    need = (cap[0] * sustained, cap[1] * sustained)
    have = _capacity(alt.gpu, alt.gpu_count)
    if have is None:
        return need, {"throughput_check": f"not made: no datasheet figures for {alt.gpu}"}
    return need, {
        "throughput_check": f"needed <= {TARGET_UTILIZATION:.0%} of the alternative's",
        "sustained_utilization": round(sustained, 4),
        "needed_tflops": round(need[0], 2),
        "needed_memory_gb_s": round(need[1], 1),
        "alternative_tflops": have[0],
        "alternative_memory_gb_s": have[1],
        "alternative_projected_utilization": round(max(need[0] / have[0], need[1] / have[1]), 4),
    }


def detect_rightsize(ctx: Context) -> list[Finding]:
    """Resources whose GPUs are far larger than their peak need, with a cheaper fit."""
    out = []
    for rid, rows in ctx.gpu_hours.items():
        if rows[0].pricing == "Committed" or not is_oversized(rows):
            continue
        peaks = _peaks(rows)
        assert peaks is not None
        mem, total, util = peaks
        cost = sum((r.cost for r in rows), Decimal(0))
        price = float(cost) / len(rows)
        sustained = _sustained(rows)
        src = _capacity(_source_gpu(rows[0]), max(rows[0].gpu_count, 1))
        need = None if src is None else (src[0] * sustained, src[1] * sustained)
        alt = _alternative(rows[0], mem * HEADROOM, price, need)
        if alt is None or alt.ondemand_usd_per_hour is None:
            continue
        _, throughput = _throughput(rows[0], sustained, alt)
        alt_price = Decimal(str(alt.ondemand_usd_per_hour))
        waste = cost - alt_price * len(rows)
        low = cost - alt_price * Decimal("1.5") * len(rows)
        expected = ctx.monthly(waste)
        if expected < MIN_MONTHLY:
            continue
        first = rows[0]
        out.append(
            Finding(
                id=finding_id("rightsize", rid),
                kind="rightsize",
                resource_id=rid,
                owner=first.owner,
                monthly_saving=Saving(ctx.monthly(max(low, Decimal(0))), expected, expected),
                confidence=0.75,
                action=f"replace {first.gpu_count}x{first.gpu_model} ({first.instance_type}) "
                f"with {alt.gpu_count}x{alt.gpu} ({alt.instance_type}): peak {mem:.1f} GiB "
                f"of {total:.0f} GiB GPU memory, peak utilization {util:.0%}",
                evidence={
                    "rule": f"peak memory <= {MAX_MEMORY_SHARE:.0%} of GPU memory and peak "
                    f"utilization <= {MAX_UTILIZATION:.0%}; cheapest catalog offer in the "
                    f"region with GPU memory >= {HEADROOM} x peak",
                    "instance_type": first.instance_type,
                    "gpu_model": first.gpu_model,
                    "gpu_count": first.gpu_count,
                    "peak_memory_gib": round(mem, 3),
                    "gpu_memory_gib": round(total, 3),
                    "peak_utilization": round(util, 4),
                    "billed_hours": len(rows),
                    "billed_cost": float(money(cost)),
                    "alternative": alt.instance_type,
                    "alternative_gpu": f"{alt.gpu_count}x{alt.gpu} {alt.gpu_memory_gib} GiB",
                    "alternative_usd_per_hour": float(alt_price),
                    "alternative_price_date": alt.price_date,
                    **throughput,
                    **ctx.scaling(
                        waste,
                        "(billed_cost - billed_hours x alternative_usd_per_hour) x monthly_factor",
                    ),
                },
            )
        )
    return out
