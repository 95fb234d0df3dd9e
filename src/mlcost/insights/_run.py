"""Running the detectors on what is loaded: each one that lacks its input is skipped, with why.

A bill alone is a valid start: the detectors that read only ``cost_line_items`` (anomaly,
commitment, data transfer, untagged) run, and so does spot (from the bill's tags and names
when no workload record names a billed resource, ``pattern: bill_tags``); those that need GPU
telemetry, workload records or run metrics are skipped with a one-line reason that says what
to load, or, when the input is loaded but names no billed resource, how many names are
unmatched and where to see them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = [
    "LOAD",
    "NEEDS",
    "InsightsRun",
    "linked_inputs",
    "run_detectors",
    "skip_reasons",
    "unlinked",
]

# detector -> the input it reads beyond the bill (detectors not listed need only the bill;
# spot reads workload records when they name billed resources, else the bill's tags).
NEEDS: dict[str, str] = {
    "early_stop": "metrics",
    "idle_gpu": "telemetry",
    "overprovisioned_endpoint": "telemetry",
    "rightsize": "telemetry",
    "runaway": "workloads",
}
LOAD = {
    "telemetry": "needs GPU telemetry: load nvidia-smi or DCGM "
    "(mlcost ingest nvidia-smi / prometheus)",
    "workloads": "needs workload records: load Slurm, OpenCost or tracker runs "
    "(mlcost ingest slurm / opencost / tracker / mlflow)",
    "metrics": "needs run metric histories: load tracker or MLflow runs "
    "(mlcost ingest tracker / mlflow)",
}
_TABLE = {"telemetry": "gpu_samples", "workloads": "workloads"}


@dataclass(frozen=True)
class InsightsRun:
    """What a run of the detectors found, which detectors ran, which were skipped and why,
    and the window they read (the data's own range inside the one asked for)."""

    findings: list[Finding]
    ran: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    window: tuple[datetime, datetime] | None = None
    # what the detectors read (for the plan: each resource's cost); not part of the JSON
    context: Context | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        a, b = self.window or (None, None)
        return {
            "window": {
                "start": None if a is None else f"{a:%Y-%m-%dT%H:%M:%SZ}",
                "end": None if b is None else f"{b:%Y-%m-%dT%H:%M:%SZ}",
            },
            "ran": list(self.ran),
            "skipped": [{"detector": k, "reason": v} for k, v in sorted(self.skipped.items())],
            "findings": [f.as_dict() for f in self.findings],
        }


def linked_inputs(wh: Warehouse) -> dict[str, tuple[int, int]]:
    """Per input table (``gpu_samples``, ``workloads``): (rows that name a billed resource,
    names that match none); a table with no rows is absent."""
    o = wh.table("observed_resources")
    links = wh.table("resource_links")
    j = o.left_join(links, o.name == links.name)
    hit = j.billed_resource_id.notnull()
    g = j.group_by(table=o["table"]).aggregate(
        linked=(o.rows * hit.cast("int64")).sum(),
        unmatched=(~hit).cast("int64").sum(),
    )
    return {
        r["table"]: (int(r["linked"] or 0), int(r["unmatched"] or 0))
        for r in g.to_pyarrow().to_pylist()
    }


def skip_reasons(wh: Warehouse, names: Iterable[str]) -> dict[str, str]:
    """The detectors among ``names`` that cannot run on what is loaded, with the reason."""
    wanted = [n for n in names if n in NEEDS]
    if not wanted:
        return {}
    seen = linked_inputs(wh)
    has_metrics = wh.table("run_metrics").count().execute() > 0
    reasons: dict[str, str] = {}
    for name in wanted:
        need = NEEDS[name]
        if need == "metrics":
            linked, unmatched = seen.get("workloads", (0, 0))
            if not has_metrics:
                reasons[name] = LOAD["metrics"]
            elif not linked:
                reasons[name] = unlinked("runs", unmatched)
            continue
        linked, unmatched = seen.get(_TABLE[need], (0, 0))
        if linked:
            continue
        if unmatched:
            what = "telemetry" if need == "telemetry" else "workloads"
            reasons[name] = unlinked(what, unmatched)
        else:
            reasons[name] = LOAD[need]
    return reasons


def unlinked(what: str, unmatched: int) -> str:
    """The reason for input that is loaded but names no billed resource."""
    return (
        f"no {what} linked to the bill: {unmatched:,} name(s) unmatched, "
        "see `mlcost sources --unmatched`"
    )


def run_detectors(
    ctx: Context,
    names: list[str],
    detector: Callable[[str], Callable[[Context], list[Finding]]],
) -> InsightsRun:
    """Run the detectors ``names`` that have their inputs; worst finding first."""
    skipped = skip_reasons(ctx.wh, names)
    ran = tuple(n for n in names if n not in skipped)
    found: list[Finding] = []
    for name in ran:
        found.extend(detector(name)(ctx))
    found.sort(key=lambda f: (-f.monthly_saving.expected, f.id))
    a, b = ctx.window
    return InsightsRun(found, ran, skipped, None if a == b else (a, b), ctx)
