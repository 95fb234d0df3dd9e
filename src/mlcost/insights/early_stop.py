"""Early stopping (``early_stop``): runs that kept training after their metric plateaued.

Reads the metric history of runs (``run_metrics``: tracker ``metric`` records, exported
``metric_history``, MLflow). The metric of a run is its ``monitor`` parameter when it logged
it, else the first of ``PREFERRED`` it logged, else its first ``val*`` / ``eval*`` metric, else
``loss``. It is minimized when its name says loss, error, perplexity (``MINIMIZE``), else
maximized.

Plateau, as Keras' and Lightning's ``EarlyStopping`` define it: walking the evaluations in
step order, a value *improves* when it beats the best so far by at least ``MIN_DELTA`` of the
best's magnitude (relative, so losses and accuracies share one rule); only improvements move
the best. The plateau starts at the last improvement; early stopping with ``PATIENCE``
evaluations would have stopped the run at the ``PATIENCE``-th evaluation after it (the *stop
point*). A run fires when it ran on past the stop point for at least ``MIN_FRACTION`` of its
duration.

Money: the run's cost (its billed resource's hours from start to end, else the cost the
tracker recorded) x the share of its duration after the stop point (``fraction_after_stop``).
A point's time is the time it was logged, else its step's share of the last logged step
spread over the run. ``high``: after the last improvement; ``low``: after ``2 x PATIENCE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money
from mlcost.warehouse import fetch_rows

__all__ = ["MIN_DELTA", "PATIENCE", "Plateau", "detect_early_stop", "find_plateau"]

PATIENCE = 5  # evaluations without improvement
MIN_DELTA = 0.005  # of the best value's magnitude
MIN_FRACTION = 0.1
MIN_WASTE = Decimal(100)  # one-off money below this is no finding
PREFERRED = ("val_loss", "eval_loss", "validation_loss", "valid_loss")
MINIMIZE = ("loss", "error", "err", "perplexity", "ppl", "wer", "cer", "mse", "mae", "rmse")


@dataclass(frozen=True)
class Plateau:
    """Where a metric stopped improving: indexes into the evaluations, in step order."""

    last_improvement: int
    stop: int  # last_improvement + PATIENCE: where early stopping would have stopped
    best: float


def minimized(key: str) -> bool:
    """Whether a lower value of the metric ``key`` is better."""
    k = key.lower()
    return any(word in k for word in MINIMIZE)


def find_plateau(
    values: list[float], *, minimize: bool, patience: int = PATIENCE, min_delta: float = MIN_DELTA
) -> Plateau | None:
    """The plateau of a series of evaluations, or None when it improved until the end.

    >>> find_plateau([2.0, 1.5, 1.2, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1], minimize=True)
    Plateau(last_improvement=3, stop=8, best=1.1)
    >>> find_plateau([2.0, 1.5, 1.2, 1.1, 1.1, 1.1, 1.1, 1.1], minimize=True) is None
    True
    """
    if not values:
        return None
    best, last = values[0], 0
    for i, v in enumerate(values[1:], start=1):
        gain = (best - v) if minimize else (v - best)
        if gain >= min_delta * max(abs(best), 1e-12):
            best, last = v, i
    stop = last + patience
    if stop >= len(values) - 1:
        return None
    return Plateau(last, stop, best)


def _metric(params: dict[str, str], keys: set[str]) -> str | None:
    monitor = params.get("monitor")
    if monitor in keys:
        return monitor
    for k in PREFERRED:
        if k in keys:
            return k
    named = sorted(k for k in keys if k.lower().startswith(("val", "eval")))
    if named:
        return named[0]
    return "loss" if "loss" in keys else None


def detect_early_stop(ctx: Context) -> list[Finding]:
    """Runs that trained on past a plateau of their validation metric."""
    m = ctx.wh.table("run_metrics")
    history: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in fetch_rows(m, order_by=["workload_id", "key", "step", "time", "value"]):
        history.setdefault(r["workload_id"], {}).setdefault(r["key"], []).append(r)
    if not history:
        return []
    w = ctx.wh.table("workloads")
    w = w.filter(w.workload_id.isin(list(history)) & w.start.notnull() & w["end"].notnull())
    links = ctx.wh.table("resource_links")
    j = w.left_join(links, w.resource_id.fill_null(w.node) == links.name)
    j = j.select(
        "workload_id", "name", "experiment", "start", "end", "params", "cost",
        rid=j.billed_resource_id,
    )  # fmt: skip
    out = []
    for run in fetch_rows(j):
        params = run["params"] or {}
        series = history[run["workload_id"]]
        key = _metric(params, set(series))
        if key is None:
            continue
        f = _finding(ctx, run, key, series[key])
        if f is not None:
            out.append(f)
    return out


def _times(points: list[dict[str, Any]], start: datetime, end: datetime) -> list[datetime]:
    if all(p["time"] is not None for p in points):
        return [p["time"] for p in points]
    last = max((p["step"] or 0) for p in points) or len(points)
    span = end - start
    return [start + span * ((p["step"] if p["step"] is not None else i + 1) / last)
            for i, p in enumerate(points)]  # fmt: skip


def _run_cost(ctx: Context, run: dict[str, Any]) -> tuple[Decimal, str]:
    rows = ctx.gpu_hours.get(run["rid"], []) if run["rid"] else []
    inside = [h for h in rows if run["start"] - timedelta(hours=1) < h.hour < run["end"]]
    if inside:
        return sum((h.cost for h in inside), Decimal(0)), f"billed hours of {run['rid']}"
    if run["cost"] is not None:
        return Decimal(str(run["cost"])), "the cost the tracker recorded"
    return Decimal(0), "unknown"


def _finding(
    ctx: Context, run: dict[str, Any], key: str, points: list[dict[str, Any]]
) -> Finding | None:
    points = sorted(points, key=lambda p: (p["step"] is None, p["step"], p["time"] or run["start"]))
    minimize = minimized(key)
    plateau = find_plateau([p["value"] for p in points], minimize=minimize)
    if plateau is None:
        return None
    start, end = run["start"], run["end"]
    duration = float((end - start).total_seconds())
    if duration <= 0:
        return None
    times = _times(points, start, end)

    def after(i: int) -> float:
        if i >= len(points):
            return 0.0
        return max(0.0, min(1.0, float((end - times[i]).total_seconds()) / duration))

    fraction = after(plateau.stop)
    if fraction < MIN_FRACTION:
        return None
    cost, cost_basis = _run_cost(ctx, run)
    waste = cost * Decimal(str(round(fraction, 6)))
    expected = money(waste)  # one-off: money this run already spent, not scaled to a month
    if expected < MIN_WASTE:
        return None
    high = cost * Decimal(str(round(after(plateau.last_improvement), 6)))
    low = cost * Decimal(str(round(after(plateau.last_improvement + 2 * PATIENCE), 6)))
    last_p, stop_p = points[plateau.last_improvement], points[plateau.stop]
    name = run["name"] or run["workload_id"]
    family = run["experiment"] or name
    hours_after = fraction * duration / 3600
    return Finding(
        id=finding_id("early_stop", run["workload_id"]),
        kind="early_stop",
        resource_id=run["rid"],
        owner=_owner(ctx, run["rid"]),
        monthly_saving=Saving(money(low), expected, money(high)),
        confidence=0.7,
        action=f"add early stopping to {family} on {key} (patience {PATIENCE} evaluations, "
        f"min_delta {MIN_DELTA:.1%}): {name} stopped improving at step {last_p['step']} "
        f"({key} {plateau.best:.4g}) and trained {hours_after:.1f} h more",
        evidence={
            "rule": f"{'lower' if minimize else 'higher'} is better; an improvement beats the "
            f"best by >= {MIN_DELTA:.1%} of it; stop = {PATIENCE} evaluations after the last "
            "improvement",
            "workload_id": run["workload_id"],
            "metric": key,
            "evaluations": len(points),
            "best": plateau.best,
            "last_improvement_step": last_p["step"],
            "last_improvement_time": f"{times[plateau.last_improvement]:%Y-%m-%dT%H:%MZ}",
            "stop_step": stop_p["step"],
            "stop_time": f"{times[plateau.stop]:%Y-%m-%dT%H:%MZ}",
            "final_value": points[-1]["value"],
            "start": f"{start:%Y-%m-%dT%H:%MZ}",
            "end": f"{end:%Y-%m-%dT%H:%MZ}",
            "run_cost": float(money(cost)),
            "run_cost_basis": cost_basis,
            "fraction_after_stop": round(fraction, 6),
            **ctx.window_evidence(),
            "window_waste": float(money(waste)),
            "saving_formula": "run_cost x fraction_after_stop: one-off (money already spent), "
            "not scaled",
        },
    )


def _owner(ctx: Context, rid: str | None) -> str | None:
    rows = ctx.gpu_hours.get(rid, []) if rid else []
    return rows[0].owner if rows else None
