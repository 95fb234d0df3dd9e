"""Resource → workloads by GPU share, and used vs idle GPU cost from telemetry."""

from __future__ import annotations

from decimal import Decimal

from mlcost import Warehouse
from mlcost.attribution import allocate, month_window
from mlcost.config import AttributionConfig
from tests.attribution.conftest import (
    MONTH,
    by_bucket,
    line,
    origin_sums_match,
    put,
    sample,
    workload,
)

CONFIG = AttributionConfig()


def test_two_pods_on_one_8_gpu_node(wh: Warehouse) -> None:
    # One hour of an 8-GPU node (80.00): pod-a holds 2 GPUs at 90 %, pod-b 4 GPUs at 10 %
    # (labelled DCGM samples); 2 GPUs nobody claimed are the node owner's unallocated capacity.
    put(wh, "cost_line_items", [line("80.00", resource="node-1", gpus=8, tags={"team": "infra"})])
    put(
        wh,
        "workloads",
        [
            workload("opencost:pod-a", "node-1", 0, 1, 2, tags={"team": "search"}),
            workload("opencost:pod-b", "node-1", 0, 1, 4, tags={"Team": "vision"}),
        ],
    )
    put(
        wh,
        "gpu_samples",
        [sample("node-1", m / 60, 0.9, pod="pod-a") for m in range(0, 60, 15)]
        + [sample("node-1", m / 60, 0.1, pod="pod-b") for m in range(0, 60, 15)],
    )
    allocate(wh, CONFIG, *month_window(MONTH))
    got = by_bucket(wh)
    assert got[("gpu_used", "search", "opencost:pod-a")] == Decimal("18.00")
    assert got[("gpu_idle", "search", "opencost:pod-a")] == Decimal("2.00")
    assert got[("gpu_used", "vision", "opencost:pod-b")] == Decimal("4.00")
    assert got[("gpu_idle", "vision", "opencost:pod-b")] == Decimal("36.00")
    assert got[("gpu_unallocated", "infra", "node-1")] == Decimal("20.00")
    assert origin_sums_match(wh)


def test_mig_slices_pay_by_compute_slices(wh: Warehouse) -> None:
    # One A100 split into MIG instances: a 3g.40gb and a 1g.10gb pay 3/7 and 1/7 of its hour;
    # the 3/7 no instance used is unallocated. No telemetry: shares are unmeasured, not guessed.
    put(wh, "cost_line_items", [line("7.00", resource="a100", gpus=1, tags={"team": "infra"})])
    put(
        wh,
        "workloads",
        [
            workload("k8s:big", "a100", 0, 1, 1, params={"mig_profile": "3g.40gb"}),
            workload("k8s:small", "a100", 0, 1, 1, tags={"mig_profile": "nvidia.com/mig-1g.10gb"}),
        ],
    )
    allocate(wh, CONFIG, *month_window(MONTH))
    got = by_bucket(wh)
    assert got[("gpu_unmeasured", "infra", "k8s:big")] == Decimal("3.00")
    assert got[("gpu_unmeasured", "infra", "k8s:small")] == Decimal("1.00")
    assert got[("gpu_unallocated", "infra", "a100")] == Decimal("3.00")


def test_time_sliced_replicas_share_one_gpu(wh: Warehouse) -> None:
    # A GPU advertised as 4 time-sliced replicas: two pods with one replica each pay a quarter
    # of the GPU each, half of it stays unallocated.
    put(wh, "cost_line_items", [line("4.00", resource="t4", gpus=1, tags={"team": "infra"})])
    put(
        wh,
        "workloads",
        [
            workload("k8s:a", "t4", 0, 1, 1, params={"gpu_replicas": "4"}),
            workload("k8s:b", "t4", 0, 1, 1, params={"gpu_replicas": "4"}),
        ],
    )
    put(wh, "gpu_samples", [sample("t4", 0.5, 0.5)])
    allocate(wh, CONFIG, *month_window(MONTH))
    got = by_bucket(wh)
    assert got[("gpu_used", "infra", "k8s:a")] == Decimal("0.50")
    assert got[("gpu_idle", "infra", "k8s:b")] == Decimal("0.50")
    assert got[("gpu_unallocated", "infra", "t4")] == Decimal("2.00")


def test_a_job_that_ran_part_of_the_hour(wh: Warehouse) -> None:
    # A 1-GPU job that ran 30 of the 60 minutes pays half; its utilization is measured over its
    # own half hour (100 %), not the idle half after it.
    put(wh, "cost_line_items", [line("2.00", resource="g", gpus=1, tags={"team": "infra"})])
    put(wh, "workloads", [workload("slurm:7", "g", 0, 0.5, 1, tags={"team": "search"})])
    put(wh, "gpu_samples", [sample("g", 0.0, 1.0), sample("g", 0.25, 1.0), sample("g", 0.75, 0.0)])
    allocate(wh, CONFIG, *month_window(MONTH))
    got = by_bucket(wh)
    assert got[("gpu_used", "search", "slurm:7")] == Decimal("1.00")
    assert got[("gpu_idle", "search", "slurm:7")] == Decimal("0.00")
    assert got[("gpu_unallocated", "infra", "g")] == Decimal("1.00")


def test_missing_telemetry_is_unmeasured_and_a_resource_without_workloads_is_its_own(
    wh: Warehouse,
) -> None:
    # A GPU VM with no workload record is its own workload: measured hours split used/idle,
    # the hour without any sample is unmeasured (coverage below 100 %), never invented.
    put(
        wh,
        "cost_line_items",
        [
            line("3.00", resource="vm", gpus=1, start=0, tags={"team": "vision"}),
            line("3.00", resource="vm", gpus=1, start=1, tags={"team": "vision"}),
        ],
    )
    put(wh, "gpu_samples", [sample("vm", 0.5, 0.25)])
    allocate(wh, CONFIG, *month_window(MONTH))
    got = by_bucket(wh)
    assert got[("gpu_used", "vision", "resource:vm")] == Decimal("0.75")
    assert got[("gpu_idle", "vision", "resource:vm")] == Decimal("2.25")
    assert got[("gpu_unmeasured", "vision", "resource:vm")] == Decimal("3.00")


def test_oversubscribed_node_scales_every_claim(wh: Warehouse) -> None:
    # Two jobs claim 2 GPUs each on a 2-GPU node: each pays half, nothing is unallocated and
    # nothing is allocated twice.
    put(wh, "cost_line_items", [line("10.00", resource="n", gpus=2, tags={"team": "infra"})])
    put(wh, "workloads", [workload("slurm:1", "n", 0, 1, 2), workload("slurm:2", "n", 0, 1, 2)])
    allocate(wh, CONFIG, *month_window(MONTH))
    got = by_bucket(wh)
    assert got[("gpu_unmeasured", "infra", "slurm:1")] == Decimal("5.00")
    assert got[("gpu_unmeasured", "infra", "slurm:2")] == Decimal("5.00")
    assert not any(k[0] == "gpu_unallocated" for k in got)


def test_used_and_idle_weigh_each_gpu_the_same(wh: Warehouse) -> None:
    # An 8-GPU VM (80.00 for the hour) whose job uses GPUs 0 and 1 at 90 %, sampled every
    # minute, while GPUs 2..7 sit at 0 % and are sampled every 15 minutes: per GPU, 2 x 0.9 / 8
    # of the hour is used (18.00), not the 75 % a mean over all samples would give.
    put(wh, "cost_line_items", [line("80.00", resource="vm8", gpus=8, tags={"team": "llm"})])
    rows = []
    for g in range(8):
        step = 1 if g < 2 else 15
        for m in range(0, 60, step):
            s = sample("vm8", m / 60, 0.9 if g < 2 else 0.0)
            s["gpu_index"] = g
            rows.append(s)
    put(wh, "gpu_samples", rows)
    allocate(wh, CONFIG, *month_window(MONTH))
    got = by_bucket(wh)
    assert got[("gpu_used", "llm", "resource:vm8")] == Decimal("18.00")
    assert got[("gpu_idle", "llm", "resource:vm8")] == Decimal("62.00")
    assert origin_sums_match(wh)
