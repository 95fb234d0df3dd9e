"""The detectors by name, and running them (their findings are stored by ``_store.py``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from mlcost.config import AttributionConfig
from mlcost.errors import UnknownName
from mlcost.insights._data import Context
from mlcost.insights._finding import Finding

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["DETECTORS", "run_insights"]

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

    >>> from mlcost import open_warehouse
    >>> with open_warehouse("duckdb://:memory:") as wh:
    ...     run_insights(wh)
    []
    """
    ctx = Context(wh, config or AttributionConfig(), start, end)
    names = list(kinds) if kinds else sorted(DETECTORS)
    detectors = [_detector(n) for n in names]
    found: list[Finding] = []
    for detect in detectors:
        found.extend(detect(ctx))
    return sorted(found, key=lambda f: (-f.monthly_saving.expected, f.id))
