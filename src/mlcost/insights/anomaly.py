"""Spend anomalies (``anomaly``): days that cost far more than their weekday usually does.

Daily EffectiveCost per owner and per service. The baseline of a day is the median of the
other days of the window with the same weekday (the weekday effect: a weekly batch recurs on
its weekday, so it is its own baseline and never fires; with two weeks that is the same
weekday of the other week); the spread is 1.4826 x the median absolute deviation of all days
from their baselines. It needs ``MIN_HISTORY_DAYS`` of usage (two of each weekday). The
minimum-impact floor is absolute and relative, as AWS Cost Anomaly Detection's "impact >= X USD
and impact >= Y %": a day starts an event when its excess over the baseline exceeds ``SIGMAS``
spreads, ``MIN_RELATIVE`` of the baseline and ``MIN_IMPACT`` USD; neighbouring days over one
spread and the relative threshold join the event (a burst that starts late in a day is counted
whole); the event is reported when its total excess is also at least ``MIN_IMPACT_SHARE`` of
the baseline of its days (1,200 USD more is a large event for a team that spends 200 USD a
day, and 1,500 USD more none for one that spends 5,000).

Root cause, ranked by money as AWS Cost Anomaly Detection reports it: for each dimension
(service, account, region, resource, owner), the excess of each value on the event days over
its own median day. Resources that run most of the window (``LEVEL_SHIFT_DAYS`` or more) are a
level shift, not a spike: a new steady workload belongs in the forecast, so an event made only
of them is not reported. Saving: the excess (a one-off; not scaled to a month).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import date, timedelta  # noqa: F401 (doctest)
from decimal import Decimal
from typing import Any

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money
from mlcost.warehouse import fetch_rows

__all__ = ["MIN_IMPACT", "MIN_IMPACT_SHARE", "baseline_excess", "detect_anomalies", "over_floor"]

SIGMAS = 3.0
MIN_RELATIVE = 0.2
MIN_IMPACT = 1000.0  # USD: the excess of the day that starts an event (and of the event)
MIN_IMPACT_SHARE = 0.4  # of the baseline of the event's days
LEVEL_SHIFT_DAYS = 7
# Two of each weekday, so every day has a same-weekday baseline (AWS Cost Anomaly Detection
# also waits for about ten days of history before it alerts). With two weeks the baseline of
# a day is the same weekday of the other week.
MIN_HISTORY_DAYS = 14
DIMENSIONS = {
    "service": "ServiceName",
    "account": "SubAccountId",
    "region": "RegionId",
    "resource": "ResourceId",
    "owner": "owner",
}


def baseline_excess(values: Sequence[tuple[date, float]]) -> list[tuple[date, float, float]]:
    """(day, value, baseline) for each day: baseline = median of the other same-weekday days.

    >>> days = [(date(2026, 5, 1) + timedelta(d), 10.0) for d in range(14)]
    >>> baseline_excess(days)[0]
    (datetime.date(2026, 5, 1), 10.0, 10.0)
    """
    out = []
    for i, (d, v) in enumerate(values):
        same = [x for j, (e, x) in enumerate(values) if j != i and e.weekday() == d.weekday()]
        others = same or [x for j, (_, x) in enumerate(values) if j != i]
        out.append((d, v, statistics.median(others) if others else v))
    return out


def _events(series: Sequence[tuple[date, float]]) -> list[list[tuple[date, float, float]]]:
    rows = baseline_excess(series)
    if len(rows) < MIN_HISTORY_DAYS:
        return []
    spread = 1.4826 * statistics.median(abs(v - b) for _, v, b in rows)

    # Hysteresis: a day over every threshold starts an event; its neighbours join it while
    # they stay over one spread and the relative threshold (a burst that starts at 20:00 spends
    # only a few hours on its first day, under the floor, but belongs to it).
    def over(v: float, b: float, sigmas: float = 1.0) -> bool:
        return v - b > max(sigmas * spread, MIN_RELATIVE * b)

    events: list[list[tuple[date, float, float]]] = []
    i = 0
    while i < len(rows):
        _, v, b = rows[i]
        if not (over(v, b, SIGMAS) and v - b >= MIN_IMPACT):
            i += 1
            continue
        a, z = i, i
        while a > 0 and over(rows[a - 1][1], rows[a - 1][2]):
            a -= 1
        while z + 1 < len(rows) and over(rows[z + 1][1], rows[z + 1][2]):
            z += 1
        if events and events[-1][-1][0] >= rows[a][0]:
            a = rows.index(events.pop()[0])
        events.append(rows[a : z + 1])
        i = z + 1
    return [e for e in events if over_floor(e)]


def over_floor(event: Sequence[tuple[date, float, float]]) -> bool:
    """The minimum-impact floor: excess >= MIN_IMPACT USD and >= MIN_IMPACT_SHARE of baseline.

    >>> over_floor([(date(2026, 5, 4), 1400.0, 200.0)])  # 1,200 USD over a 200 USD day
    True
    >>> over_floor([(date(2026, 5, 4), 20_600.0, 20_000.0)])  # 3 % of a large baseline
    False
    """
    excess = sum(v - b for _, v, b in event)
    baseline = sum(b for _, _, b in event)
    return excess >= MIN_IMPACT and excess >= MIN_IMPACT_SHARE * baseline


def detect_anomalies(ctx: Context) -> list[Finding]:
    """Anomalous days per owner and per service, with their root cause by money."""
    t = ctx.lines()
    # Usage only: a month's credit or tax on its first day is a posting, not a spend change.
    t = t.filter(
        (t.ChargeCategory == "Usage")
        & (t.ChargeFrequency.isnull() | (t.ChargeFrequency == "Usage-Based"))
    )
    t = t.mutate(day=t.ChargePeriodStart.date())
    cols = {name: t[col] for name, col in DIMENSIONS.items()}
    daily = t.group_by(day=t.day, **cols).aggregate(cost=t.EffectiveCost.sum())
    # In a fixed order, so floating-point sums and ties among causes come out the same on
    # every engine (an aggregate's rows come back in no set order).
    rows = fetch_rows(daily, order_by=["day", *DIMENSIONS])
    days = sorted({r["day"] for r in rows})
    active: dict[str, set[date]] = {}
    for r in rows:
        if r["resource"] is not None:
            active.setdefault(r["resource"], set()).add(r["day"])
    found: dict[tuple[date, str], Finding] = {}
    for dim in ("owner", "service"):
        by: dict[str, dict[date, float]] = {}
        for r in rows:
            key = r[dim] if r[dim] is not None else "(none)"
            cell = by.setdefault(key, {})
            cell[r["day"]] = cell.get(r["day"], 0.0) + float(r["cost"])
        for value, cells in sorted(by.items()):
            series = [(d, cells.get(d, 0.0)) for d in days]
            for event in _events(series):
                f = _finding(ctx, dim, value, event, rows, active, len(days))
                if f is not None and f.resource_id is not None:
                    key = (event[0][0], f.resource_id)
                    if (
                        key not in found
                        or found[key].monthly_saving.expected < f.monthly_saving.expected
                    ):
                        found[key] = f
    return list(found.values())


def _finding(
    ctx: Context,
    dim: str,
    value: str,
    event: list[tuple[date, float, float]],
    rows: list[dict[str, Any]],
    active: dict[str, set[date]],
    n_days: int,
) -> Finding | None:
    event_days = {d for d, _, _ in event}
    inside = [r for r in rows if (r[dim] if r[dim] is not None else "(none)") == value]
    causes: dict[str, list[dict[str, Any]]] = {}
    every_resource: list[dict[str, Any]] = []
    for cause_dim in DIMENSIONS:
        per: dict[str, dict[date, float]] = {}
        for r in inside:
            k = r[cause_dim] if r[cause_dim] is not None else "(none)"
            cell = per.setdefault(k, {})
            cell[r["day"]] = cell.get(r["day"], 0.0) + float(r["cost"])
        ranked: list[dict[str, Any]] = []
        for k, cells in per.items():
            others = sorted(v for d, v in cells.items() if d not in event_days)
            pad = [0.0] * (n_days - len(event_days) - len(others))
            normal = statistics.median(pad + others) if pad or others else 0.0
            extra = sum(cells.get(d, 0.0) - normal for d in event_days)
            if extra > 0:
                ranked.append({"value": k, "excess": round(extra, 2)})
        ranked.sort(key=lambda x: -x["excess"])
        causes[cause_dim] = ranked[:3]
        if cause_dim == "resource":
            every_resource = ranked
    spikes = [
        c
        for c in every_resource
        if c["value"] != "(none)" and len(active.get(c["value"], ())) < LEVEL_SHIFT_DAYS
    ]
    if not spikes:
        return None
    excess = sum(v - b for _, v, b in event)
    explained = sum(c["excess"] for c in spikes)
    if explained < MIN_IMPACT:
        return None
    expected = money(min(excess, explained))
    top = spikes[0]["value"]
    first, last = event[0][0], event[-1][0]
    return Finding(
        # The event, not its cause: the series and its first day (a rerun that ranks the
        # causes differently, or a restated export, keeps the id).
        id=finding_id("anomaly", dim, value, first.isoformat()),
        kind="anomaly",
        resource_id=top,
        owner=(causes["owner"][0]["value"] if causes["owner"] else None),
        monthly_saving=Saving(Decimal(0), expected, money(excess)),
        confidence=0.7,
        action=f"check {first:%Y-%m-%d}..{last:%Y-%m-%d}: {dim} {value} spent "
        f"{excess:,.0f} USD over its usual weekday; top cause {top.rsplit('/', 1)[-1]}; "
        f"guard: a budget with an alert on {dim} {value} (mlcost budgets), or "
        "`mlcost watch` to hear of the next spike the day it starts",
        evidence={
            "rule": f"daily cost - median of the same weekday > max({SIGMAS} x 1.4826 x MAD, "
            f"{MIN_RELATIVE:.0%} of baseline); event excess >= {MIN_IMPACT:.0f} USD and >= "
            f"{MIN_IMPACT_SHARE:.0%} of its days' baseline",
            "baseline": round(sum(b for _, _, b in event), 2),
            "series": f"{dim}={value}",
            "days": [
                {"day": d.isoformat(), "cost": round(v, 2), "baseline": round(b, 2)}
                for d, v, b in event
            ],
            "excess": round(excess, 2),
            "root_cause": causes,
            "spike_resources": spikes,
            "window_waste": float(expected),
            **ctx.window_evidence(),
            "saving_formula": "min(excess, excess of resources active < "
            f"{LEVEL_SHIFT_DAYS} days); one-off, not scaled",
        },
    )
