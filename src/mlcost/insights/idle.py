"""Idle GPUs: allocated GPUs with no work for a sustained span.

An hour is idle when the highest utilization any GPU of the resource reported in it is below
``IDLE_UTILIZATION``. Only runs of at least ``MIN_SPAN_HOURS`` idle hours count, so a training
job's short dips (checkpoints, data stalls) never make a finding. Three patterns, one finding
per resource at most:

- ``forgotten``: the resource's last idle run reaches the end of its bill, lasts at least
  ``FORGOTTEN_HOURS`` and covers a whole working day: nobody came back to it.
- ``nights_weekends``: most off-hours (outside 08:00-19:00 UTC, Monday-Friday) are idle while
  most working hours are not: a schedule would stop it.
- ``mostly_idle``: idle in most hours, whatever the time.

Saving (over the window, then x 30 / window days): the EffectiveCost of the idle hours the
action removes; ``low`` keeps only runs of twice the minimum span, ``high`` adds every idle
hour of the pattern, however short its run.

A fourth pattern, ``unused_gpus``, is judged per GPU (by UUID, else index): on a multi-GPU
resource with no instance-level finding, the GPUs whose every measured hour is below
``IDLE_UTILIZATION`` (at least ``MIN_SPAN_HOURS`` of them) while another GPU of the same
resource does work: "6 of 8 GPUs never used". Its own finding (kind ``idle_gpu``, pattern
``unused_gpus``), priced as the idle GPUs' share of each hour's EffectiveCost (idle GPUs /
``x_GpuCount``) over the hours their GPUs were measured; ``high`` takes the share of every
billed hour. The evidence lists each GPU with its measured hours, idle hours and utilization;
GPUs that reported nothing are listed as unmeasured, never counted idle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from mlcost.insights._context import Context, GpuHour, HourRow
from mlcost.insights._finding import Finding, Saving, finding_id, money

__all__ = [
    "FORGOTTEN_HOURS",
    "IDLE_UTILIZATION",
    "MIN_SPAN_HOURS",
    "detect_idle",
    "is_work_hour",
    "unused_gpus_finding",
]

IDLE_UTILIZATION = 0.05  # below 5 % on every GPU all hour: nothing runs
MIN_SPAN_HOURS = 4  # a checkpoint or a stall lasts minutes, not four hours
FORGOTTEN_HOURS = 72
WORK_START, WORK_END = 8, 19  # UTC; teams that work elsewhere set their own (not yet)
MIN_MONTHLY = Decimal(50)  # smaller findings are noise


def is_work_hour(t: datetime) -> bool:
    return t.weekday() < 5 and WORK_START <= t.hour < WORK_END


def _runs(rows: Sequence[HourRow]) -> list[list[HourRow]]:
    """Consecutive idle hours (with telemetry), as runs."""
    runs: list[list[HourRow]] = []
    current: list[HourRow] = []
    for r in rows:
        idle = r.util_max is not None and r.util_max < IDLE_UTILIZATION
        if idle and current and r.hour - current[-1].hour == timedelta(hours=1):
            current.append(r)
        elif idle:
            if current:
                runs.append(current)
            current = [r]
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _cost(rows: Sequence[HourRow]) -> Decimal:
    return sum((r.cost for r in rows), Decimal(0))


def _span(run: Sequence[HourRow]) -> str:
    a, b = run[0].hour, run[-1].hour + timedelta(hours=1)
    return f"{a:%Y-%m-%dT%H:%MZ}/{b:%Y-%m-%dT%H:%MZ}"


def _finding(
    ctx: Context,
    rows: Sequence[HourRow],
    pattern: str,
    idle: list[HourRow],
    low: list[HourRow],
    high: list[HourRow],
    action: str,
    confidence: float,
    **extra: object,
) -> Finding | None:
    first = rows[0]
    waste = _cost(idle)
    # The range: the wider of the rule's cautious / generous readings and an 80 % interval
    # of the month from the idle cost day by day (a short window or uneven days widen it).
    lo, hi, interval = ctx.interval(idle)
    saving = Saving(
        min(ctx.monthly(_cost(low)), lo),
        ctx.monthly(waste),
        max(ctx.monthly(_cost(high)), hi),
    )
    if saving.expected < MIN_MONTHLY:
        return None
    evidence: dict[str, object] = {
        "pattern": pattern,
        "rule": f"hours whose highest GPU utilization < {IDLE_UTILIZATION:.0%}, "
        f"in runs of at least {MIN_SPAN_HOURS} h",
        "instance_type": first.instance_type,
        "gpu_count": first.gpu_count,
        "billed_hours": len(rows),
        "billed_cost": float(money(_cost(rows))),
        "idle_hours": len(idle),
        **ctx.scaling(waste, "window_waste x monthly_factor"),
        **interval,
        "range_rule": "low = min(idle runs >= 8 h, interval low); high = max(every idle hour "
        "of the pattern, interval high)",
        "query": "cost_line_items (Usage, x_GpuCount > 0) by ResourceId and hour, "
        "left join gpu_samples by resource_links and hour: max(utilization_max)",
        **extra,
    }
    return Finding(
        id=finding_id("idle_gpu", first.resource_id, pattern),
        kind="idle_gpu",
        resource_id=first.resource_id,
        owner=first.owner,
        monthly_saving=saving,
        confidence=confidence,
        action=action,
        evidence=evidence,
    )


def _name(resource_id: str) -> str:
    return resource_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def idle_finding(ctx: Context, rows: Sequence[HourRow]) -> Finding | None:
    """The idle finding of one resource's hours (in order), or None."""
    measured = [r for r in rows if r.util_max is not None]
    if not measured:
        return None
    runs = [run for run in _runs(rows) if len(run) >= MIN_SPAN_HOURS]
    name = _name(rows[0].resource_id)
    last = runs[-1] if runs else []
    if (
        last
        and last[-1].hour == rows[-1].hour
        and len(last) >= FORGOTTEN_HOURS
        and sum(is_work_hour(r.hour) for r in last) >= WORK_END - WORK_START
    ):
        since = last[0].hour
        return _finding(
            ctx,
            rows,
            "forgotten",
            last,
            last,
            last,
            f"terminate {name} (or stop it and keep the disk): no GPU use since "
            f"{since:%Y-%m-%d %H:%M} UTC, {len(last)} idle hours",
            0.9,
            idle_since=f"{since:%Y-%m-%dT%H:%MZ}",
            last_billed=f"{rows[-1].hour:%Y-%m-%dT%H:%MZ}",
        )
    idle_all = [r for run in runs for r in run]
    off = [r for r in measured if not is_work_hour(r.hour)]
    work = [r for r in measured if is_work_hour(r.hour)]
    idle_off = [r for r in idle_all if not is_work_hour(r.hour)]
    idle_work = [r for r in idle_all if is_work_hour(r.hour)]
    if off and work and len(idle_off) >= 0.6 * len(off) and len(idle_work) <= 0.5 * len(work):
        long_runs = [r for run in runs if len(run) >= 2 * MIN_SPAN_HOURS for r in run]
        every = [
            r
            for run in _runs(rows)
            for r in run
            if not is_work_hour(r.hour)  # every idle off-hour, short runs too
        ]
        return _finding(
            ctx,
            rows,
            "nights_weekends",
            idle_off,
            [r for r in long_runs if not is_work_hour(r.hour)],
            every,
            f"stop {name} nightly {WORK_END:02d}:00-{WORK_START:02d}:00 UTC and at weekends "
            "(a schedule or an idle shutdown)",
            0.85,
            off_hours=len(off),
            idle_off_hours=len(idle_off),
            work_hours=len(work),
            idle_work_hours=len(idle_work),
            example_spans=[_span(run) for run in runs[:3]],
        )
    if len(idle_all) >= 0.5 * len(measured):
        return _finding(
            ctx,
            rows,
            "mostly_idle",
            idle_all,
            [r for run in runs if len(run) >= 2 * MIN_SPAN_HOURS for r in run],
            [r for run in _runs(rows) for r in run],
            f"release {name} or share it: idle {len(idle_all)} of {len(measured)} measured hours",
            0.7,
            example_spans=[_span(run) for run in runs[:3]],
        )
    return None


def _gpu_evidence(gpu: str, hours: Sequence[GpuHour]) -> dict[str, object]:
    return {
        "gpu": gpu,
        "index": hours[0].index,
        "measured_hours": len(hours),
        "idle_hours": sum(h.util_max < IDLE_UTILIZATION for h in hours),
        "utilization_max": round(max(h.util_max for h in hours), 4),
        "utilization_mean": round(sum(h.util_mean for h in hours) / len(hours), 4),
    }


def unused_gpus_finding(
    ctx: Context, rows: Sequence[HourRow], gpus: dict[str, list[GpuHour]]
) -> Finding | None:
    """The ``unused_gpus`` finding of one multi-GPU resource (hours in order), or None."""
    first = rows[0]
    if first.gpu_count < 2 or not gpus:
        return None
    order = sorted(gpus, key=lambda g: (gpus[g][0].index or 0, g))
    idle = [
        g
        for g in order
        if len(gpus[g]) >= MIN_SPAN_HOURS and all(h.util_max < IDLE_UTILIZATION for h in gpus[g])
    ]
    busy = [g for g in order if g not in idle]
    if not idle or not busy:
        return None  # all idle: the instance-level patterns' case
    seen = [{h.hour for h in gpus[g]} for g in idle]
    unused = len(idle)

    def part(r: HourRow, n: int) -> Decimal:
        return r.cost * Decimal(n) / Decimal(max(r.gpu_count, len(gpus)))

    measured = [r for r in rows if any(r.hour in hs for hs in seen)]
    waste = sum((part(r, sum(r.hour in hs for hs in seen)) for r in measured), Decimal(0))
    every = sum((part(r, unused) for r in rows), Decimal(0))
    saving = Saving(ctx.monthly(waste), ctx.monthly(waste), ctx.monthly(every))
    if saving.expected < MIN_MONTHLY:
        return None
    per_gpu = [_gpu_evidence(g, gpus[g]) for g in order]
    keep = first.gpu_count - unused
    name = _name(first.resource_id)
    return Finding(
        id=finding_id("idle_gpu", first.resource_id, "unused_gpus"),
        kind="idle_gpu",
        resource_id=first.resource_id,
        owner=first.owner,
        monthly_saving=saving,
        confidence=0.85,
        action=f"{unused} of {first.gpu_count} GPUs of {name} never used: move its work to "
        f"an instance with {keep} GPU{'s' if keep > 1 else ''}, or pack other jobs onto the "
        "idle GPUs",
        evidence={
            "pattern": "unused_gpus",
            "rule": f"GPUs below {IDLE_UTILIZATION:.0%} in every measured hour (at least "
            f"{MIN_SPAN_HOURS} h) while another GPU of the resource works",
            "instance_type": first.instance_type,
            "gpu_count": first.gpu_count,
            "idle_gpus": idle,
            "idle_gpu_count": unused,
            "busy_gpus": busy,
            "unmeasured_gpu_count": max(first.gpu_count - len(gpus), 0),
            "gpus": per_gpu,
            "billed_hours": len(rows),
            "billed_cost": float(money(_cost(rows))),
            "measured_hours": len(measured),
            **ctx.scaling(
                waste,
                "sum over measured hours of EffectiveCost x idle GPUs / gpu_count x monthly_factor",
            ),
            "query": "gpu_samples by resource_links, GPU (gpu_uuid, else gpu_index) and hour: "
            "max(utilization_max); cost_line_items (Usage, x_GpuCount > 0) by ResourceId and hour",
        },
    )


def detect_idle(ctx: Context) -> list[Finding]:
    """One finding per GPU resource that sits idle in a sustained pattern, or whose GPUs
    are partly never used."""
    out = []
    per_gpu = ctx.per_gpu_hours
    for rid, rows in ctx.gpu_hours.items():
        if rows[0].pricing == "Committed":
            continue  # a reservation is paid either way: the fix is work for it, not a stop
        f = idle_finding(ctx, rows) or unused_gpus_finding(ctx, rows, per_gpu.get(rid, {}))
        if f is not None:
            out.append(f)
    return out
