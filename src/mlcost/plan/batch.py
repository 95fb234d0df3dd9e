"""Batch planning: how many workers, and when to start, for a job that is not latency-bound.

**Workers.** Throughput rarely scales linearly: data loading, a shared database or the writer
saturate. From a measured curve ``[(workers, items_per_second), ...]`` (piecewise linear
between the points, so measure at the counts you would run), each added worker's *marginal*
throughput is compared with what one worker alone delivers. Adding workers stops paying past
``saturation_workers``: the last count whose step still added at least ``min_marginal`` (default
half) of a lone worker's throughput. Cost per item rises past it, since every worker is paid.

**Start window.** Given an hourly price schedule (spot price history, or off-peak tariffs via
:func:`offpeak_schedule`), the job's duration and a deadline, :func:`cheapest_start` finds the
start whose run costs least. The cost of a run is piecewise linear in its start time, so the
optimum is at a start or an end that touches a price change; those are the only candidates.

    >>> curve = [(1, 100.0), (2, 195.0), (4, 370.0), (8, 420.0)]
    >>> plan = plan_workers(1_000_000, curve, usd_per_worker_hour=1.0)
    >>> plan.saturation_workers
    4
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlcost.errors import BadValue, InvalidInput, MissingColumn, NoFit

__all__ = [
    "StartWindow",
    "WorkerOption",
    "WorkerPlan",
    "cheapest_start",
    "offpeak_schedule",
    "plan_workers",
    "read_prices",
]


@dataclass(frozen=True)
class WorkerOption:
    """One worker count: its throughput, duration and cost (``currency``)."""

    workers: int
    items_per_second: float
    marginal_items_per_second: float
    hours: float
    cost: float
    cost_per_1000: float
    currency: str = "USD"


@dataclass(frozen=True)
class WorkerPlan:
    """Every measured count, where adding workers stops paying, and the count to run."""

    items: int
    options: tuple[WorkerOption, ...]
    saturation_workers: int
    recommended_workers: int
    meets_deadline: bool
    reason: str
    currency: str = "USD"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_curve(curve: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    pts = sorted((int(w), float(t)) for w, t in curve)
    if not pts:
        raise InvalidInput("empty throughput curve", fix="give (workers, items_per_second) points")
    if pts[0][0] != 1:
        raise InvalidInput(
            "the throughput curve has no point at 1 worker",
            fix="measure one worker alone: it is the yardstick for every added worker",
        )
    for (w0, _), (w1, _) in itertools.pairwise(pts):
        if w0 == w1:
            raise InvalidInput(f"worker count {w0} measured twice", fix="keep one point per count")
    for w, t in pts:
        if not t > 0:
            raise InvalidInput(f"throughput at {w} workers must be positive, got {t}")
    return pts


def plan_workers(
    items: int,
    curve: Sequence[tuple[int, float]],
    *,
    usd_per_worker_hour: float,
    deadline_hours: float | None = None,
    min_marginal: float = 0.5,
) -> WorkerPlan:
    """Where added workers stop paying, and the cheapest measured count that meets the deadline.

    Without a deadline the recommendation is the cheapest count at or below saturation; with
    one, the cheapest count that finishes in time (possibly past saturation: time costs money
    too), else the fastest count, flagged ``meets_deadline=False``.
    """
    if items <= 0:
        raise InvalidInput(f"items must be positive, got {items}")
    if usd_per_worker_hour < 0:
        raise InvalidInput(f"price per worker-hour must be zero or more, got {usd_per_worker_hour}")
    pts = _check_curve(curve)
    single = pts[0][1]
    options = []
    saturation = 1
    prev_w, prev_t = 0, 0.0
    for w, t in pts:
        marginal = (t - prev_t) / (w - prev_w)
        if prev_w and marginal >= min_marginal * single and saturation == prev_w:
            saturation = w
        hours = items / t / 3600
        cost = hours * w * usd_per_worker_hour
        options.append(
            WorkerOption(
                w,
                t,
                round(marginal, 6),
                round(hours, 6),
                round(cost, 4),
                round(cost / items * 1000, 6),
            )
        )
        prev_w, prev_t = w, t
    if deadline_hours is not None:
        in_time = [o for o in options if o.hours <= deadline_hours]
        if in_time:
            best = min(in_time, key=lambda o: (o.cost, o.hours))
            reason = f"cheapest count that finishes within {deadline_hours} h"
        else:
            best = min(options, key=lambda o: o.hours)
            reason = f"no measured count finishes within {deadline_hours} h; fastest shown"
        meets = bool(in_time)
    else:
        best = min((o for o in options if o.workers <= saturation), key=lambda o: (o.cost, o.hours))
        reason = "cheapest count at or below saturation"
        meets = True
    return WorkerPlan(items, tuple(options), saturation, best.workers, meets, reason)


@dataclass(frozen=True)
class StartWindow:
    """The cheapest start for a run of ``hours`` and what it costs against starting now."""

    start: datetime
    end: datetime
    cost: float
    cost_if_started_now: float
    saving: float
    currency: str = "USD"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        return d


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _run_cost(schedule: list[tuple[datetime, float]], start: datetime, end: datetime) -> float:
    total = 0.0
    for i, (t, price) in enumerate(schedule):
        t_next = schedule[i + 1][0] if i + 1 < len(schedule) else end
        lo, hi = max(t, start), min(t_next, end)
        if hi > lo:
            total += price * (hi - lo).total_seconds() / 3600
    return total


def cheapest_start(
    schedule: Sequence[tuple[datetime, float]],
    *,
    hours: float,
    earliest: datetime,
    deadline: datetime,
    workers: int = 1,
) -> StartWindow:
    """The start in ``[earliest, deadline - hours]`` that makes the run cheapest.

    ``schedule`` is ``[(from_time, usd_per_hour), ...]``; each price holds until the next
    entry, the last one indefinitely. Naive datetimes are taken as UTC.
    """
    if hours <= 0:
        raise InvalidInput(f"hours must be positive, got {hours}")
    sched = sorted((_aware(t), float(p)) for t, p in schedule)
    if not sched:
        raise InvalidInput("empty price schedule", fix="give (time, usd_per_hour) rows")
    earliest, deadline = _aware(earliest), _aware(deadline)
    duration = timedelta(hours=hours)
    latest = deadline - duration
    if latest < earliest:
        raise NoFit(
            f"A {hours} h run cannot fit between {earliest.isoformat()} and "
            f"{deadline.isoformat()}. Move the deadline or add workers."
        )
    if earliest < sched[0][0]:
        raise InvalidInput(
            f"the price schedule starts at {sched[0][0].isoformat()}, after the earliest start",
            fix="give prices from the earliest start on",
        )
    candidates = {earliest, latest}
    for t, _ in sched:
        for c in (t, t - duration):
            if earliest <= c <= latest:
                candidates.add(c)
    best = min(sorted(candidates), key=lambda s: _run_cost(sched, s, s + duration))
    cost = _run_cost(sched, best, best + duration) * workers
    now_cost = _run_cost(sched, earliest, earliest + duration) * workers
    return StartWindow(
        best, best + duration, round(cost, 4), round(now_cost, 4), round(now_cost - cost, 4)
    )


def offpeak_schedule(
    start: datetime,
    days: int,
    *,
    peak_usd_per_hour: float,
    offpeak_usd_per_hour: float,
    offpeak_hours: tuple[int, int] = (22, 6),
) -> list[tuple[datetime, float]]:
    """An hourly schedule, cheaper from ``offpeak_hours[0]`` to ``offpeak_hours[1]`` o'clock."""
    first, last = offpeak_hours
    start = _aware(start).replace(minute=0, second=0, microsecond=0)
    out = []
    for h in range(days * 24):
        t = start + timedelta(hours=h)
        off = (first <= t.hour or t.hour < last) if first > last else first <= t.hour < last
        out.append((t, offpeak_usd_per_hour if off else peak_usd_per_hour))
    return out


def read_prices(path: str | Path) -> list[tuple[datetime, float]]:
    """A price schedule from CSV ``time,usd_per_hour`` (ISO 8601 times; naive = UTC).

    AWS ``describe-spot-price-history`` exports (``Timestamp,SpotPrice``) read too.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        time_col = next((c for c in ("time", "Timestamp") if c in cols), None)
        price_col = next((c for c in ("usd_per_hour", "SpotPrice") if c in cols), None)
        if time_col is None or price_col is None:
            raise MissingColumn(
                "need columns time,usd_per_hour", file=path, fix="header: time,usd_per_hour"
            )
        out = []
        for i, row in enumerate(reader, start=1):
            try:
                t = datetime.fromisoformat(row[time_col].strip())
            except ValueError as exc:
                raise BadValue(
                    f"{row[time_col]!r} is not an ISO 8601 time", file=path, row=i, column=time_col
                ) from exc
            try:
                price = float(row[price_col])
            except ValueError as exc:
                raise BadValue(
                    f"{row[price_col]!r} is not a number", file=path, row=i, column=price_col
                ) from exc
            if not math.isfinite(price) or price < 0:
                raise BadValue(f"price {price} is negative", file=path, row=i, column=price_col)
            out.append((_aware(t), price))
    return out
