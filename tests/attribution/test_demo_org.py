"""Invariants on the whole demo organization, and its planted figures reproduced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from mlcost import Warehouse, ingest_focus, open_warehouse
from mlcost.attribution import UNALLOCATED, audit_tags, showback
from mlcost.attribution.gpu import gpu_lines
from mlcost.demo import generate_demo
from mlcost.demo._config import demo_attribution
from mlcost.sources import ingest_auto

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, Any, Any]]:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, days=7, scale=0.5)
    with open_warehouse(f"duckdb://{out / 'w.duckdb'}") as wh:
        ingest_focus(wh, sorted((out / "billing").glob("*.csv")))
        ingest_auto(wh, [out / "telemetry", out / "workloads"])
        sb = showback(wh, demo_attribution(), "2026-05")
        truth = json.loads((out / "ground_truth.json").read_text())
        yield wh, sb, truth


def _sum(t: Any, metric: str = "EffectiveCost") -> Decimal:
    return Decimal(t[metric].sum().execute() or 0)


def test_allocated_rows_add_up_to_every_charge_to_the_cent(demo: tuple[Any, ...]) -> None:
    wh, sb, _ = demo
    bill, alloc = wh.table("cost_line_items"), wh.table("allocated_costs")
    keys = ["ResourceId", "ChargePeriodStart", "ChargeCategory", "ServiceName", "x_IngestId"]
    for metric in ("BilledCost", "EffectiveCost", "ListCost"):
        a = alloc.group_by(keys).aggregate(v=alloc[metric].sum())
        b = bill.group_by(keys).aggregate(v=bill[metric].sum())
        j = b.outer_join(a, [b[k].identical_to(a[k]) for k in keys])
        off = j.filter((j.v.fill_null(0) - j.v_right.fill_null(0)).abs() >= 0.005)
        assert off.count().execute() == 0, metric
    rec = sb.reconciliation
    assert rec.balanced and rec.effective[0] == rec.effective[1] and rec.billed[0] == rec.billed[1]


def test_used_idle_unmeasured_and_unallocated_make_the_gpu_cost(demo: tuple[Any, ...]) -> None:
    wh, sb, _ = demo
    bill = wh.table("cost_line_items")
    gpu_cost = _sum(bill.filter(gpu_lines(bill)))
    parts = sum(
        (s.gpu_used + s.gpu_idle + s.gpu_unmeasured + s.gpu_unallocated for s in sb.statements),
        Decimal(0),
    )
    assert gpu_cost > 0 and abs(parts - gpu_cost) < CENT


def test_every_dollar_has_an_owner_or_is_unallocated(demo: tuple[Any, ...]) -> None:
    wh, sb, _ = demo
    alloc = wh.table("allocated_costs")
    nobody = _sum(alloc.filter(alloc.x_Owner.isnull()))
    statements = {s.owner: s for s in sb.statements}
    assert abs(statements[UNALLOCATED].unallocated - nobody) < CENT
    assert abs(sum((s.total for s in sb.statements), Decimal(0)) - _sum(alloc)) < CENT
    assert set(statements) - {UNALLOCATED} <= set(demo_attribution().allowed["team"])
    buckets = set(alloc.x_Bucket.execute())
    assert buckets <= {
        "direct",
        "shared",
        *(f"gpu_{b}" for b in ("used", "idle", "unmeasured", "unallocated")),
    }


def test_planted_untagged_share_is_reproduced(demo: tuple[Any, ...]) -> None:
    wh, _, truth = demo
    planted = next(c for c in truth["cases"] if c["kind"] == "untagged_share")
    audit = audit_tags(wh, demo_attribution())
    assert audit.owner_missing_share == pytest.approx(planted["details"]["share"], rel=0.02)


def _off_hours(at: datetime) -> bool:
    # The demo's working hours: 08:00-19:00 UTC, Monday to Friday.
    return at.weekday() >= 5 or not 8 <= at.hour < 19


def test_planted_idle_gpu_money_is_reproduced(demo: tuple[Any, ...]) -> None:
    wh, _, truth = demo
    cases = [c for c in truth["cases"] if c["kind"] == "idle_gpu_nights_weekends"]
    alloc = wh.table("allocated_costs")
    hosts = [r for c in cases for r in c["resource_ids"]]
    idle = alloc.filter(alloc.ResourceId.isin(hosts) & (alloc.x_Bucket == "gpu_idle"))
    rows = idle.select("ChargePeriodStart", "EffectiveCost").to_pyarrow().to_pylist()
    found = sum(r["EffectiveCost"] for r in rows if _off_hours(r["ChargePeriodStart"]))
    planted = sum(c["wasted_usd"] for c in cases)
    assert planted > 0 and float(found) == pytest.approx(planted, rel=0.02)
