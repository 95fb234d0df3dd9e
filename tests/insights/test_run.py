"""A bill alone is a valid start: detectors without their input are skipped, with the reason."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.insights import NEEDS, Context, insights_run
from mlcost.insights.endpoint import detect_overprovisioned
from tests.insights.conftest import gpu_host, put, sample

BILL_ONLY = {"anomaly", "commitment", "data_transfer", "spot", "untagged"}


def _replicas(wh: Warehouse) -> None:
    # Two replicas of one model on 4-GPU instances for two days, billed, with no telemetry.
    bills = []
    for i in range(2):
        b, _ = gpu_host(
            f"serve-{i}",
            range(48),
            5.0,
            lambda q: 0.5,
            instance="g5.12xlarge",
            gpus=4,
            tags={"team": "recs", "model": "ranker"},
        )
        bills += b
    put(wh, "cost_line_items", bills)


def test_a_bill_alone_runs_the_bill_detectors_and_names_the_others(wh: Warehouse) -> None:
    _replicas(wh)
    run = insights_run(wh)
    assert set(run.ran) == BILL_ONLY
    assert set(run.skipped) == set(NEEDS)
    assert run.skipped["idle_gpu"].startswith("needs GPU telemetry: load nvidia-smi or DCGM")
    assert run.skipped["runaway"].startswith("needs workload records")
    # Spot runs from the bill's tags and names (the serving replicas are no candidates).
    assert "spot" not in run.skipped and not any(f.kind == "spot" for f in run.findings)
    assert run.skipped["early_stop"].startswith("needs run metric histories")
    assert all(f.kind in BILL_ONLY for f in run.findings)
    # The window is the bill's own: two days from 2026-10-01.
    assert run.window is not None and (run.window[1] - run.window[0]).days == 2


def test_telemetry_that_names_no_billed_host_is_counted(wh: Warehouse) -> None:
    # Telemetry is loaded, but under host names the bill does not know (three of them).
    _replicas(wh)
    put(wh, "gpu_samples", [sample(f"gpu-node-{i}", 0.5, 0.4) for i in range(3)])
    run = insights_run(wh, kinds=["idle_gpu", "untagged"])
    assert run.skipped == {
        "idle_gpu": "no telemetry linked to the bill: 3 name(s) unmatched, "
        "see `mlcost sources --unmatched`"
    }
    assert run.ran == ("untagged",)


def test_endpoint_replicas_without_samples_are_no_finding_and_no_crash(wh: Warehouse) -> None:
    # Telemetry exists for another host, none for the replicas: their peak load is unknown
    # (pandas' NaN, once "cannot convert float NaN to integer"), so no endpoint is judged.
    _replicas(wh)
    b, s = gpu_host("other", range(48), 1.0, lambda q: 0.5, tags={"team": "x"})
    put(wh, "cost_line_items", b)
    put(wh, "gpu_samples", s)
    assert detect_overprovisioned(Context(wh)) == []
    assert "overprovisioned_endpoint" in insights_run(wh).ran
