"""Idle GPUs: nights and weekends, forgotten instances, and training dips that are not idle."""

from __future__ import annotations

from decimal import Decimal

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.idle import detect_idle, is_work_hour
from tests.insights.conftest import gpu_host, hour, put, sample

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


def _eight_gpus(resource: str, busy: int, price: float, *, uuids: bool) -> list[dict[str, object]]:
    """Telemetry of an 8-GPU host, 4 samples an hour per GPU: GPUs below ``busy`` at 90 %,
    the others at exactly 0 % (as nvidia-smi reports a GPU no process uses)."""
    out: list[dict[str, object]] = []
    for h in range(DAYS * 24):
        for q in range(4):
            for g in range(8):
                s = sample(resource, h + q / 4, 0.9 if g < busy else 0.0)
                s["gpu_index"] = g
                if uuids:
                    s["gpu_uuid"] = f"GPU-{g:08x}-0000-0000-0000-000000000000"
                out.append(s)
    return out


def test_busy_pair_with_six_idle_gpus_is_one_unused_gpus_finding(wh: Warehouse) -> None:
    # A p4d (8 GPUs, 32 USD/h) whose job uses GPUs 0 and 1 for two weeks; 2..7 sit at 0 %.
    bill, _ = gpu_host("p4d-1", range(DAYS * 24), 32.0, lambda q: 0.9, gpus=8)
    _load(wh, (bill, _eight_gpus("p4d-1", 2, 32.0, uuids=True)))
    [f] = detect_idle(Context(wh))
    assert f.kind == "idle_gpu" and f.evidence["pattern"] == "unused_gpus"
    idle = [f"GPU-{g:08x}-0000-0000-0000-000000000000" for g in range(2, 8)]
    assert f.evidence["idle_gpus"] == idle and f.evidence["idle_gpu_count"] == 6
    # By hand: 6/8 of every hour's 32 USD, for 14 days, x 30 / 14.
    assert f.evidence["window_waste"] == DAYS * 24 * 32.0 * 6 / 8
    assert f.monthly_saving.expected == Decimal(30 * 24 * 32 * 6 // 8).quantize(Decimal("0.01"))
    per_gpu = {g["index"]: g for g in f.evidence["gpus"]}
    assert per_gpu[0]["utilization_max"] == 0.9 and per_gpu[0]["idle_hours"] == 0
    assert per_gpu[5]["utilization_max"] == 0.0 and per_gpu[5]["idle_hours"] == DAYS * 24
    assert "6 of 8 GPUs" in f.action and "2 GPUs" in f.action
    # The window read is stated: the bill's own two weeks.
    assert (f.evidence["window_start"], f.evidence["window_end"]) == (
        "2026-10-01T00:00Z",
        "2026-10-15T00:00Z",
    )


def test_gpus_named_by_index_when_the_source_has_no_uuid(wh: Warehouse) -> None:
    # The same host from a source that gives only the index (a DCGM exporter without UUID).
    bill, _ = gpu_host("p4d-2", range(DAYS * 24), 32.0, lambda q: 0.9, gpus=8)
    _load(wh, (bill, _eight_gpus("p4d-2", 2, 32.0, uuids=False)))
    [f] = detect_idle(Context(wh))
    assert f.evidence["idle_gpus"] == ["2", "3", "4", "5", "6", "7"]


def test_all_gpus_busy_or_unmeasured_is_no_unused_gpus_finding(wh: Warehouse) -> None:
    # Near-misses: every GPU busy; and a host whose source reported only GPU 0 (the other
    # seven are unmeasured, never counted idle).
    bill, _ = gpu_host("p4d-3", range(DAYS * 24), 32.0, lambda q: 0.9, gpus=8)
    bill2, one = gpu_host("p4d-4", range(DAYS * 24), 32.0, lambda q: 0.9, gpus=8)
    _load(wh, (bill, _eight_gpus("p4d-3", 8, 32.0, uuids=True)), (bill2, one))
    assert detect_idle(Context(wh)) == []


def _notebook_range(days: int) -> tuple[float, float, dict[str, object]]:
    from mlcost import open_warehouse

    with open_warehouse("duckdb://:memory:") as wh:
        _load(
            wh,
            gpu_host(
                "nb-1",
                range(days * 24),
                1.0,
                lambda q: 0.5 if is_work_hour(hour(q / 4)) else 0.0,
            ),
        )
        [f] = detect_idle(Context(wh))
    s = f.monthly_saving
    return float(s.low / s.expected), float(s.high / s.expected), f.evidence


def test_a_short_history_widens_the_range() -> None:
    # The same notebook idle nights and weekends, seen for one week and for four: the month
    # read from one week is less sure, so its 80 % interval is wider around the estimate.
    lo7, hi7, ev7 = _notebook_range(7)
    lo28, hi28, _ = _notebook_range(28)
    assert hi7 - lo7 > hi28 - lo28
    assert lo7 < 1 < hi7 and lo28 <= 1 <= hi28
    # The interval is redone from its evidence: 30 x (mean +- t x sd / sqrt(days)).
    iv = ev7["interval"]
    assert isinstance(iv, dict) and iv["days"] == 7 and iv["level"] == 0.8
    half = iv["t"] * iv["daily_sd"] / 7**0.5
    assert abs(30 * (iv["daily_mean"] + half) / float(ev7["window_waste"]) / (30 / 7) - hi7) < 0.01
