"""Showback is incremental by billing period: a month whose inputs did not change is not
allocated again, and a changed month is rebuilt alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlcost import Warehouse
from mlcost.attribution import allocate, month_window, showback
from mlcost.config import AttributionConfig, SharedRule
from tests.attribution.conftest import MONTH, line, put, sample, workload

NOVEMBER = "2026-11"
NOV = 31 * 24  # hours from 2026-10-01 to 2026-11-01


def _month_rows(wh: Warehouse, month: str) -> list[tuple[Any, ...]]:
    """The month's allocated rows, every column, in a stable order."""
    start, end = month_window(month)
    a = wh.table("allocated_costs")
    a = a.filter((a.ChargePeriodStart >= start) & (a.ChargePeriodStart < end))
    rows = a.to_pyarrow().to_pylist()
    return sorted((tuple(sorted((k, repr(v)) for k, v in r.items())) for r in rows), key=str)


def _october(wh: Warehouse) -> None:
    # A GPU hour shared by a workload (half measured busy) and a tagged database charge.
    put(
        wh,
        "cost_line_items",
        [
            line("8.00", resource="gpu", gpus=1, tags={"team": "vision"}),
            line("3.00", resource="db", tags={"team": "search"}),
        ],
    )
    put(wh, "workloads", [workload("k8s:train-a", "gpu", 0, 1, 1, tags={"team": "vision"})])
    put(wh, "gpu_samples", [sample("gpu", 0.5, 0.5)])


def _november(wh: Warehouse, cost: str, ingest: int) -> None:
    # The same database a month later, loaded by a later ingest.
    nov = {"BillingPeriodStart": datetime(2026, 11, 1), "BillingPeriodEnd": datetime(2026, 12, 1)}
    put(wh, "cost_line_items", [line(cost, resource="db", start=NOV, ingest=ingest, **nov)])


def test_unchanged_month_is_reused_after_another_months_ingest(wh: Warehouse) -> None:
    config = AttributionConfig()
    _october(wh)
    first = allocate(wh, config, *month_window(MONTH))
    assert not first.reused and first.rows == 3  # GPU used, GPU idle, the database
    october = _month_rows(wh, MONTH)
    # Nothing changed: no allocation work, the very rows (x_BuiltAt included).
    again = allocate(wh, config, *month_window(MONTH))
    assert again.reused and again.rows == first.rows
    assert _month_rows(wh, MONTH) == october
    # November's bill arrives: October's inputs are the same, so October is not rebuilt.
    _november(wh, "5.00", ingest=2)
    assert allocate(wh, config, *month_window(MONTH)).reused
    assert _month_rows(wh, MONTH) == october
    assert not allocate(wh, config, *month_window(NOVEMBER)).reused
    november = _month_rows(wh, NOVEMBER)
    # A restated October (another load): October alone is rebuilt, November kept.
    put(wh, "cost_line_items", [line("1.00", resource="db", ingest=3, tags={"team": "search"})])
    rebuilt = allocate(wh, config, *month_window(MONTH))
    assert not rebuilt.reused and rebuilt.rows == 4
    assert allocate(wh, config, *month_window(NOVEMBER)).reused
    assert _month_rows(wh, NOVEMBER) == november


def test_changed_rules_telemetry_or_workloads_rebuild(wh: Warehouse) -> None:
    _october(wh)
    window = month_window(MONTH)
    allocate(wh, AttributionConfig(), *window)
    # Another owner key, a shared-cost rule: the configuration is part of the inputs.
    assert not allocate(wh, AttributionConfig(), *window, owner_key="project").reused
    rule = SharedRule(name="db", method="even", match={"ResourceId": ("db",)})
    assert not allocate(wh, AttributionConfig(shared=(rule,)), *window).reused
    assert allocate(wh, AttributionConfig(shared=(rule,)), *window).reused
    # A new sample in the month, a new workload anywhere: rebuilt.
    put(wh, "gpu_samples", [{**sample("gpu", 0.75, 1.0), "ingest_id": 2}])
    assert not allocate(wh, AttributionConfig(shared=(rule,)), *window).reused
    put(wh, "workloads", [workload("k8s:eval-b", "gpu", 2, 3, 1, ingest_id=2)])
    assert not allocate(wh, AttributionConfig(shared=(rule,)), *window).reused
    # force: rebuilt even though nothing changed.
    assert not allocate(wh, AttributionConfig(shared=(rule,)), *window, force=True).reused


def test_showback_says_when_it_reused_the_allocation(wh: Warehouse) -> None:
    _october(wh)
    config = AttributionConfig()
    built = showback(wh, config, MONTH)
    reused = showback(wh, config, MONTH)
    assert not built.reused and reused.reused
    assert reused.statements == built.statements
    assert reused.reconciliation.balanced
