"""Over-provisioned endpoints: replicas beyond ceil(peak summed load / 60 %)."""

from __future__ import annotations

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.endpoint import detect_overprovisioned
from tests.insights.conftest import gpu_host, put


def _endpoint(wh: Warehouse, replicas: int, peak: float) -> None:
    bills, samples = [], []
    for i in range(replicas):
        b, s = gpu_host(
            f"serve-{i}",
            range(48),
            5.0,
            lambda q: peak if q % 96 == 60 else peak / 3,  # one peak sample a day
            instance="g5.12xlarge",
            tags={"team": "recs", "model": "ranker"},
            memory_gib=8,
            total_gib=24,
        )
        bills += b
        samples += s
    put(wh, "cost_line_items", bills)
    put(wh, "gpu_samples", samples)


def test_four_replicas_that_two_would_serve(wh: Warehouse) -> None:
    # 4 replicas peaking at 16 % each: 64 % summed -> ceil(0.64 / 0.6) = 2 replicas.
    _endpoint(wh, 4, 0.16)
    [f] = detect_overprovisioned(Context(wh))
    assert f.evidence["replicas_needed"] == 2
    # By hand: 4 x 48 h x 5 USD x (4 - 2) / 4.
    assert f.evidence["window_waste"] == 4 * 48 * 5.0 / 2


def test_busy_endpoint_keeps_its_replicas(wh: Warehouse) -> None:
    # Near-miss: 4 replicas peaking at 50 % each need ceil(2.0 / 0.6) = 4.
    _endpoint(wh, 4, 0.5)
    assert detect_overprovisioned(Context(wh)) == []
