"""Right-sizing (``rightsize``): a GPU far larger than what runs on it.

A resource is oversized when its peak GPU memory stays under ``MAX_MEMORY_SHARE`` of what its
GPUs have and its peak utilization under ``MAX_UTILIZATION`` (a small model on a big GPU, the
"default to the largest GPU" habit). The alternative is the cheapest on-demand catalog offer
in the same cloud and region whose GPU memory holds the peak with ``HEADROOM`` and that has no
more GPUs: a smaller GPU, or fewer GPUs. Saving per billed hour: what the hour cost minus the
alternative's price; ``low`` takes the alternative at 1.5 x its price (a larger fallback),
``high`` the same as expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from mlcost.insights._data import Context, HourRow
from mlcost.insights._finding import Finding, Saving, finding_id, money

if TYPE_CHECKING:
    from mlcost.catalog import Offer

__all__ = ["HEADROOM", "MAX_MEMORY_SHARE", "MAX_UTILIZATION", "detect_rightsize", "is_oversized"]

MAX_MEMORY_SHARE = 0.25
MAX_UTILIZATION = 0.5
HEADROOM = 1.5  # the alternative GPU holds 1.5 x the peak memory
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


def _alternative(first: HourRow, need_gib: float, price: float) -> Offer | None:
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
    ]
    return min(fits, key=lambda o: (o.ondemand_usd_per_hour, o.instance_type), default=None)


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
        alt = _alternative(rows[0], mem * HEADROOM, price)
        if alt is None or alt.ondemand_usd_per_hour is None:
            continue
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
                    "window_waste": float(money(waste)),
                    "window_days": round(ctx.days, 4),
                    "monthly_factor": ctx.monthly_factor,
                    "saving_formula": "(billed_cost - billed_hours x alternative_usd_per_hour)"
                    " x monthly_factor",
                },
            )
        )
    return out
