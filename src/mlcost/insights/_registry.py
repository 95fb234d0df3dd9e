"""The detectors by name, and running them (their findings are stored by ``_store.py``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from mlcost.config import AttributionConfig
from mlcost.errors import UnknownName
from mlcost.insights._context import COMMITMENT_LOOKBACK_DAYS, Context
from mlcost.insights._finding import Finding
from mlcost.insights._run import InsightsRun, run_detectors

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["DETECTORS", "insights_run", "run_insights"]

# detector name -> "module:function(ctx) -> list[Finding]"; one module per detector.
DETECTORS: dict[str, str] = {
    "anomaly": "mlcost.insights.anomaly:detect_anomalies",
    "commitment": "mlcost.insights.commitment:detect_commitments",
    "data_transfer": "mlcost.insights.transfer:detect_transfer",
    "early_stop": "mlcost.insights.early_stop:detect_early_stop",
    "idle_gpu": "mlcost.insights.idle:detect_idle",
    "overprovisioned_endpoint": "mlcost.insights.endpoint:detect_overprovisioned",
    "rightsize": "mlcost.insights.rightsize:detect_rightsize",
    "runaway": "mlcost.insights.runaway:detect_runaway",
    "spot": "mlcost.insights.spot:detect_spot",
    "untagged": "mlcost.insights.untagged:detect_untagged",
}


def _detector(name: str) -> Callable[[Context], list[Finding]]:
    if name not in DETECTORS:
        from mlcost.catalog import nearest

        raise UnknownName("insight kind", name, nearest(name, DETECTORS))
    module, attr = DETECTORS[name].split(":")
    fn: Callable[[Context], list[Finding]] = getattr(importlib.import_module(module), attr)
    return fn


def run_insights(
    wh: Warehouse,
    config: AttributionConfig | None = None,
    *,
    kinds: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Finding]:
    """Run the detectors (all, or ``kinds``) and return their findings, worst first.

    Detectors whose input is not loaded (GPU telemetry, workloads, run metrics) are skipped:
    :func:`insights_run` says which and why.

    >>> from mlcost import open_warehouse
    >>> with open_warehouse("duckdb://:memory:") as wh:
    ...     run_insights(wh)
    []
    """
    return insights_run(wh, config, kinds=kinds, start=start, end=end).findings


def insights_run(
    wh: Warehouse,
    config: AttributionConfig | None = None,
    *,
    kinds: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    commitment_lookback_days: float = COMMITMENT_LOOKBACK_DAYS,
) -> InsightsRun:
    """Run the detectors that have their inputs: findings, detectors run and skipped (with
    the reason), and the window read. ``commitment_lookback_days``: the least history a
    commitment level is read from (30 days by default).

    >>> from mlcost import open_warehouse
    >>> with open_warehouse("duckdb://:memory:") as wh:
    ...     insights_run(wh).skipped["idle_gpu"]
    'needs GPU telemetry: load nvidia-smi or DCGM (mlcost ingest nvidia-smi / prometheus)'
    """
    ctx = Context(wh, config or AttributionConfig(), start, end, commitment_lookback_days)
    names = list(kinds) if kinds else sorted(DETECTORS)
    for n in names:
        _detector(n)  # an unknown name fails before any detector runs
    run = run_detectors(ctx, names, _detector)
    # Billed resource ids, readable names and owners from attribution (one identity).
    from mlcost.attribution.identity import named

    found = named(wh, ctx.config, run.findings)
    return replace(run, findings=sorted(found, key=lambda f: (-f.monthly_saving.expected, f.id)))
