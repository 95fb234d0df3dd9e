"""Tiny hand-built GPU resources for the detectors: hourly bill rows and telemetry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mlcost import Warehouse, open_warehouse
from tests.attribution.conftest import hour, line, put, sample, workload

__all__ = ["gpu_host", "hour", "line", "put", "sample", "workload"]


def gpu_host(
    resource: str,
    hours: range,
    price: float,
    util: Callable[[int], float],
    *,
    instance: str = "g5.xlarge",
    gpus: int = 1,
    pricing: str = "Standard",
    region: str = "us-east-1",
    tags: dict[str, str] | None = None,
    memory_gib: float = 4.0,
    total_gib: float = 24.0,
    per_hour: int = 4,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Bill rows (one per hour) and telemetry (``per_hour`` samples: util(quarter index))."""
    bill = [
        line(
            price,
            resource=resource,
            start=h,
            gpus=gpus,
            tags=tags or {"team": "vision"},
            x_InstanceType=instance,
            PricingCategory=pricing,
            RegionId=region,
            ChargeFrequency="Usage-Based",
            ServiceCategory="Compute",
        )
        for h in hours
    ]
    samples = []
    for h in hours:
        for q in range(per_hour):
            s = sample(resource, h + q / per_hour, util(h * per_hour + q))
            s["memory_used_bytes"] = int(memory_gib * 2**30)
            s["memory_used_max_bytes"] = int(memory_gib * 2**30)
            s["memory_total_bytes"] = int(total_gib * 2**30)
            samples.append(s)
    return bill, samples


@pytest.fixture
def wh() -> Iterator[Warehouse]:
    with open_warehouse("duckdb://:memory:") as w:
        yield w
