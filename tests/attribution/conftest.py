"""Tiny hand-built bills, telemetry and workloads, written through the warehouse."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mlcost import Warehouse

T0 = datetime(2026, 10, 1)
MONTH = "2026-10"
ACCOUNT = "111122223333"


def hour(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def line(
    cost: str | float,
    *,
    resource: str | None = None,
    start: float = 0,
    hours: float = 1,
    gpus: float | None = None,
    tags: dict[str, str] | None = None,
    ingest: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    """One FOCUS line item: same BilledCost and EffectiveCost unless given."""
    amount = Decimal(str(cost))
    row = {
        "BillingAccountId": ACCOUNT,
        "SubAccountId": ACCOUNT,
        "BillingCurrency": "USD",
        "BillingPeriodStart": T0,
        "BillingPeriodEnd": datetime(2026, 11, 1),
        "ChargePeriodStart": hour(start),
        "ChargePeriodEnd": hour(start + hours),
        "ChargeCategory": "Usage",
        "ServiceName": "Compute",
        "ServiceProviderName": "AWS",
        "BilledCost": amount,
        "EffectiveCost": amount,
        "ListCost": amount,
        "ContractedCost": amount,
        "ResourceId": resource,
        "ResourceName": resource,
        "x_GpuCount": None if gpus is None else Decimal(str(gpus)),
        "x_GpuModel": "A100" if gpus else None,
        "Tags": list((tags or {}).items()),
        "x_IngestId": ingest,
    }
    row.update(extra)
    return row


def workload(
    wid: str,
    resource: str,
    start: float,
    end: float,
    gpus: float | None,
    *,
    tags: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    row = {
        "workload_id": wid,
        "source": wid.split(":", 1)[0],
        "name": wid.split(":", 1)[1],
        "start": hour(start),
        "end": hour(end),
        "resource_id": resource,
        "gpu_count": gpus,
        "tags": list((tags or {}).items()),
        "params": list((params or {}).items()),
        "ingest_id": 1,
    }
    row.update(extra)
    return row


def sample(resource: str, at: float, utilization: float, **labels: str) -> dict[str, Any]:
    return {
        "time": hour(at),
        "resolution_s": 60,
        "resource_id": resource,
        "gpu_index": 0,
        "utilization": utilization,
        "sample_count": 1,
        "labels": list(labels.items()),
        "source": "test",
        "ingest_id": 1,
    }


_MAPS = {
    "Tags": pa.string(),
    "tags": pa.string(),
    "params": pa.string(),
    "labels": pa.string(),
    "metrics": pa.float64(),
}


def put(wh: Warehouse, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts; maps as lists of pairs) into ``table`` in one transaction."""
    names = sorted({k for r in rows for k in r})
    cols = {}
    for n in names:
        values = [r.get(n) for r in rows]
        if n in _MAPS:
            cols[n] = pa.array(values, type=pa.map_(pa.string(), _MAPS[n]))
        else:
            cols[n] = pa.array(values)
    with wh.transaction():
        wh.insert_arrow(table, pa.table(cols))


def by_bucket(wh: Warehouse, metric: str = "EffectiveCost") -> dict[tuple[Any, ...], Decimal]:
    """allocated_costs summed by (x_Bucket, x_Owner, x_WorkloadId), to the cent."""
    a = wh.table("allocated_costs")
    g = a.group_by(["x_Bucket", "x_Owner", "x_WorkloadId"]).aggregate(v=a[metric].sum())
    return {
        (r["x_Bucket"], r["x_Owner"], r["x_WorkloadId"]): r["v"].quantize(Decimal("0.01"))
        for r in g.to_pyarrow().to_pylist()
    }


def origin_sums_match(wh: Warehouse) -> bool:
    """Every metric of allocated_costs adds up to cost_line_items exactly."""
    a = wh.table("allocated_costs")
    b = wh.table("cost_line_items")
    for m in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        if a[m].sum().execute() != b[m].sum().execute():
            return False
    return True


@pytest.fixture(scope="session")
def demo_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo organization (7 days, half scale) loaded into ``warehouse.duckdb`` beside the
    demo's own ``mlcost.toml``, as ``mlcost demo`` leaves it (the owner model not built yet)."""
    from mlcost import ingest_focus, open_warehouse
    from mlcost.demo import generate_demo
    from mlcost.demo._config import DEMO_CONFIG_TOML
    from mlcost.sources import ingest_auto

    out = tmp_path_factory.mktemp("demo-org")
    generate_demo(out, days=7, scale=0.5)
    with open_warehouse(f"duckdb://{out / 'warehouse.duckdb'}") as wh:
        ingest_focus(wh, sorted((out / "billing").glob("*.csv")))
        ingest_auto(wh, [out / "telemetry", out / "workloads"])
    (out / "mlcost.toml").write_text(DEMO_CONFIG_TOML, encoding="utf-8")
    return out
