"""Runaway jobs (``runaway``): runs far past their expected duration.

The expected duration of a run is the ``max_hours`` it declared (tracker params), else the
median duration of the other runs of its family (same experiment, else same name without a
trailing number), when the family has at least two. A run is a runaway when it ran more than
``FACTOR`` times that and at least ``MIN_EXTRA_HOURS`` longer. Saving: the EffectiveCost of
its resource's hours after ``start + expected`` (what a duration guard would have stopped).
"""

from __future__ import annotations

import bisect
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money

__all__ = ["FACTOR", "MIN_EXTRA_HOURS", "detect_runaway"]

FACTOR = 3.0
MIN_EXTRA_HOURS = 6.0
MIN_WASTE = Decimal(100)  # one-off money below this is no finding


def _family(r: dict[str, Any]) -> str:
    if r["experiment"]:
        return f"experiment:{r['experiment']}"
    return "name:" + re.sub(r"[-_.]?\d+$", "", r["name"] or "")


def detect_runaway(ctx: Context) -> list[Finding]:
    """Runs far past their declared or usual duration, priced on their billed hours."""
    w = ctx.wh.table("workloads")
    links = ctx.wh.table("resource_links")
    w = w.filter(w.start.notnull() & w["end"].notnull())
    j = w.left_join(links, w.resource_id.fill_null(w.node) == links.name)
    j = j.select(
        "workload_id",
        "name",
        "experiment",
        "start",
        "end",
        "kind",
        rid=j.billed_resource_id,
        max_hours=j.params.get("max_hours"),
    )
    runs = j.to_pyarrow().to_pylist()
    families: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        r["hours"] = (r["end"] - r["start"]).total_seconds() / 3600
        families.setdefault(_family(r), []).append(r)
    out = []
    for fam, members in families.items():
        # Each run against the median of the others: from the family's sorted hours, without
        # its own place (a median per run over a list of the others is quadratic: a family
        # of 100,000 Slurm jobs took hours).
        hours = sorted(m["hours"] for m in members)
        for r in members:
            if r["rid"] is None:
                continue
            if r["max_hours"]:
                expected, basis = float(r["max_hours"]), "declared max_hours"
            elif len(members) >= 3:
                # Which of equal values is left out does not change the median.
                expected = _median_without(hours, bisect.bisect_left(hours, r["hours"]))
                basis = f"median of {len(members) - 1} runs"
            else:
                continue
            if r["hours"] <= FACTOR * expected or r["hours"] - expected < MIN_EXTRA_HOURS:
                continue
            f = _finding(ctx, r, fam, expected, basis)
            if f is not None:
                out.append(f)
    return out


def _median_without(ordered: list[float], i: int) -> float:
    """The median of ``ordered`` (sorted) without its ``i``-th value, as ``statistics.median``
    computes it."""
    n = len(ordered) - 1

    def at(k: int) -> float:
        return ordered[k if k < i else k + 1]

    mid = n // 2
    return at(mid) if n % 2 else (at(mid - 1) + at(mid)) / 2


def _finding(
    ctx: Context, r: dict[str, Any], family: str, expected: float, basis: str
) -> Finding | None:
    cutoff = r["start"] + timedelta(hours=expected)
    rows = ctx.gpu_hours.get(r["rid"], [])
    # An hour counts from its start: the guard stops the run in the hour it is due.
    over = [h for h in rows if r["start"] <= h.hour and h.hour + timedelta(hours=1) > cutoff]
    over = [h for h in over if h.hour < r["end"]]
    waste = sum((h.cost for h in over), Decimal(0))
    # One-off: the money this run already spent past its guard, not scaled to a month.
    expected_saving = money(waste)
    if expected_saving < MIN_WASTE:
        return None
    per_hour = waste / len(over) if over else Decimal(0)
    name = r["name"] or r["workload_id"]
    return Finding(
        id=finding_id("runaway", r["workload_id"]),
        kind="runaway",
        resource_id=r["rid"],
        owner=rows[0].owner if rows else None,
        # low: only the hours past twice the expected duration (a generous guard)
        monthly_saving=Saving(
            money(
                sum(
                    (h.cost for h in over if h.hour >= r["start"] + timedelta(hours=2 * expected)),
                    Decimal(0),
                )
            ),
            expected_saving,
            expected_saving,
        ),
        confidence=0.9 if basis.startswith("declared") else 0.75,
        action=f"stop {name} and add a duration guard of {expected:.1f} h to {family} "
        f"(mlcost run --max-hours {expected:.0f})",
        evidence={
            "workload_id": r["workload_id"],
            "family": family,
            "expected_hours": round(expected, 3),
            "expected_basis": basis,
            "ran_hours": round(r["hours"], 3),
            "start": f"{r['start']:%Y-%m-%dT%H:%MZ}",
            "end": f"{r['end']:%Y-%m-%dT%H:%MZ}",
            "hours_past_expected": len(over),
            "cost_per_hour": float(money(per_hour)),
            **ctx.window_evidence(),
            "window_waste": float(money(waste)),
            "saving_formula": "window_waste: one-off (money already spent), not scaled",
        },
    )
