"""Workload type from workload records, tags and names."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.attribution import allocate, month_window
from mlcost.config import AttributionConfig
from tests.attribution.conftest import MONTH, line, put, workload


def _types(wh: Warehouse) -> dict[str | None, str]:
    allocate(wh, AttributionConfig(), *month_window(MONTH))
    a = wh.table("allocated_costs")
    rows = a.select("x_WorkloadId", "x_WorkloadType").distinct().to_pyarrow().to_pylist()
    return {r["x_WorkloadId"]: r["x_WorkloadType"] for r in rows}


def test_each_rule_in_order(wh: Warehouse) -> None:
    put(
        wh,
        "cost_line_items",
        [
            line("1", resource="a", gpus=1),  # a fine-tuning run record
            line("1", resource="b", gpus=1),  # a Slurm job named eval-harness: its name decides
            line("1", resource="c", gpus=1, tags={"workload-type": "inference"}),  # a tag
            line("1", resource="nb-alice", gpus=1),  # a notebook host, by its name
            line("1", resource="gpu-x", gpus=1),  # a GPU with no hint: training
            line("1", resource="bucket", ServiceCategory="Storage", tags={"team": "x"}),  # data
            line("1", ServiceName="Support"),  # nobody's, no resource: shared
        ],
    )
    put(
        wh,
        "workloads",
        [
            workload("tracker:r1", "a", 0, 1, 1, kind="fine-tuning"),
            workload("slurm:eval-harness", "b", 0, 1, 1, kind="batch"),
        ],
    )
    types = _types(wh)
    assert types["tracker:r1"] == "fine-tuning"
    assert types["slurm:eval-harness"] == "batch inference"
    assert types["resource:c"] == "inference"
    assert types["resource:nb-alice"] == "notebook-dev"
    assert types["resource:gpu-x"] == "training"
    assert types["bucket"] == "data processing"
    assert types[None] == "shared"
