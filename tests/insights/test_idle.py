"""Idle GPUs: nights and weekends, forgotten instances, and training dips that are not idle."""

from __future__ import annotations

from decimal import Decimal

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.idle import detect_idle, is_work_hour
from tests.insights.conftest import gpu_host, hour, put

DAYS = 14  # 2026-10-01 (a Thursday) .. 2026-10-15


def _load(wh: Warehouse, *hosts: tuple[list[dict[str, object]], list[dict[str, object]]]) -> None:
    put(wh, "cost_line_items", [r for b, _ in hosts for r in b])
    put(wh, "gpu_samples", [r for _, s in hosts for r in s])


def test_notebook_idle_off_hours_is_a_nights_weekends_finding(wh: Warehouse) -> None:
    # A notebook at 1 USD/h: 50 % busy in working hours, exactly 0 % otherwise.
    def util(q: int) -> float:
        return 0.5 if is_work_hour(hour(q / 4)) else 0.0

    _load(wh, gpu_host("nb-1", range(DAYS * 24), 1.0, util))
    [f] = detect_idle(Context(wh))
    off = sum(not is_work_hour(hour(h)) for h in range(DAYS * 24))
    assert f.kind == "idle_gpu" and f.evidence["pattern"] == "nights_weekends"
    assert f.evidence["idle_off_hours"] == off and f.evidence["window_waste"] == off
    # By hand: idle off-hours x 1 USD x 30 / 14 days.
    assert f.monthly_saving.expected == (Decimal(off) * 30 / 14).quantize(Decimal("0.01"))
    assert f.owner == "vision" and "nightly" in f.action


def test_training_with_checkpoint_dips_is_not_idle(wh: Warehouse) -> None:
    # Near-miss: 95 % with a 0 % quarter-hour every two hours (checkpoints), day and night.
    def util(q: int) -> float:
        return 0.0 if q % 8 == 0 else 0.95

    _load(wh, gpu_host("train-1", range(DAYS * 24), 30.0, util, instance="p4d.24xlarge"))
    assert detect_idle(Context(wh)) == []


def test_short_idle_gaps_are_not_sustained(wh: Warehouse) -> None:
    # Near-miss: three idle hours between jobs, every night: shorter than the 4-hour span.
    def util(q: int) -> float:
        return 0.0 if (q // 4) % 24 in (2, 3, 4) else 0.9

    _load(wh, gpu_host("batch-1", range(DAYS * 24), 2.0, util))
    assert detect_idle(Context(wh)) == []


def test_forgotten_instance_after_its_last_use(wh: Warehouse) -> None:
    # Used for the first 6 hours, then left running at 0 % for the rest of the two weeks.
    _load(wh, gpu_host("dev-big", range(DAYS * 24), 5.0, lambda q: 0.7 if q < 24 else 0.0))
    [f] = detect_idle(Context(wh))
    assert f.evidence["pattern"] == "forgotten"
    assert f.evidence["idle_hours"] == DAYS * 24 - 6
    assert f.evidence["idle_since"] == "2026-10-01T06:00Z"
    assert f.evidence["window_waste"] == (DAYS * 24 - 6) * 5.0


def test_reserved_capacity_is_left_to_commitments(wh: Warehouse) -> None:
    # A reservation is paid either way: idle reserved hours are not a stop recommendation.
    _load(wh, gpu_host("hpc-1", range(DAYS * 24), 5.0, lambda q: 0.0, pricing="Committed"))
    assert detect_idle(Context(wh)) == []
