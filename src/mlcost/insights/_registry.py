"""The detectors by name, running them, and storing their findings."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from mlcost.config import AttributionConfig
from mlcost.errors import UnknownName
from mlcost.insights._data import Context
from mlcost.insights._finding import Finding

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["DETECTORS", "load_findings", "run_insights", "save_findings"]

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
        from mlcost.catalog._names import nearest

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
    from mlcost.attribution.identity import identified_findings

    ctx = Context(wh, config or AttributionConfig(), start, end)
    names = list(kinds) if kinds else sorted(DETECTORS)
    detectors = [_detector(n) for n in names]
    found: list[Finding] = []
    for detect in detectors:
        found.extend(detect(ctx))
    # Billed resource ids, readable names and owners from attribution (one identity).
    found = identified_findings(wh, ctx.config, found)
    return sorted(found, key=lambda f: (-f.monthly_saving.expected, f.id))


def save_findings(wh: Warehouse, findings: Sequence[Finding]) -> int:
    """Store findings in ``recommendations``: a finding seen before updates its row."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "id": f.id,
            "kind": f.kind,
            "resource_id": f.resource_id,
            "owner": f.owner,
            "saving_low": f.monthly_saving.low,
            "saving_expected": f.monthly_saving.expected,
            "saving_high": f.monthly_saving.high,
            "currency": f.monthly_saving.currency,
            "confidence": f.confidence,
            "action": f.action,
            "evidence": f.evidence_json(),
            "first_seen": now,
            "last_seen": now,
        }
        for f in findings
    ]
    with wh.transaction():
        return wh.upsert_recommendations(rows)


def load_findings(wh: Warehouse, config: AttributionConfig | None = None) -> list[Finding]:
    """The stored findings, worst first, with their resources' readable names."""
    import json

    from mlcost.attribution.identity import identified_findings
    from mlcost.insights._finding import Saving

    t = wh.table("recommendations")
    out = []
    for r in t.to_pyarrow().to_pylist():
        out.append(
            Finding(
                id=r["id"],
                kind=r["kind"],
                resource_id=r["resource_id"],
                owner=r["owner"],
                monthly_saving=Saving(
                    Decimal(r["saving_low"]),
                    Decimal(r["saving_expected"]),
                    Decimal(r["saving_high"]),
                    r["currency"],
                ),
                confidence=r["confidence"],
                action=r["action"],
                evidence=json.loads(r["evidence"]),
            )
        )
    out = identified_findings(wh, config or AttributionConfig(), out)
    return sorted(out, key=lambda f: (-f.monthly_saving.expected, f.id))
