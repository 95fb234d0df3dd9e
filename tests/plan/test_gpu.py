"""Cheapest fit on the packaged catalog."""

from __future__ import annotations

import pytest

from mlcost.errors import InvalidInput, NoFit
from mlcost.plan.gpu import cheapest_fit

GIB = 2**30


def test_cheapest_fit_respects_memory_and_sorts_by_price() -> None:
    plan = cheapest_fit(70 * GIB, purchases=("ondemand", "spot"), limit=5)
    for f in plan.fits:
        assert f.gpu_memory_gib * 0.95 >= 70
    od = [f.usd_per_hour for f in plan.fits if f.purchase == "ondemand"]
    assert od == sorted(od)


def test_multi_gpu_uses_instances_with_enough_gpus_or_says_nodes() -> None:
    plan = cheapest_fit(20 * GIB, gpus=8, limit=5)
    assert all(f.gpu_count >= 8 and f.nodes == 1 for f in plan.fits)
    big = cheapest_fit(20 * GIB, gpus=32, limit=3)
    assert all(f.gpu_count * f.nodes >= 32 for f in big.fits)
    assert any(f.nodes >= 2 for f in big.fits)
    assert "more than one node" in big.notes[0]


def test_cost_to_train() -> None:
    flops = 6 * 8e9 * 1e10  # 8B params, 10B tokens
    plan = cheapest_fit(40 * GIB, gpus=8, train_flops=flops, mfu=0.5, limit=3)
    f = plan.fits[0]
    assert f.train_hours is not None
    assert f.train_cost is not None
    assert f.train_cost == pytest.approx(f.train_hours * f.usd_per_hour, rel=1e-3)


def test_nothing_fits() -> None:
    with pytest.raises(NoFit, match="largest"):
        cheapest_fit(500 * GIB)
    with pytest.raises(InvalidInput):
        cheapest_fit(-1)


def test_no_gpu_without_bf16_is_offered_for_bf16() -> None:
    from mlcost.catalog import gpu_architecture

    for precision in ("amp-bf16", "bf16"):
        plan = cheapest_fit(10 * GIB, precision=precision, limit=100)
        gpus = {f.gpu for f in plan.fits}
        assert gpus and not gpus & {"V100", "V100-32GB", "T4", "P100", "M60"}
        assert all(gpu_architecture(g) not in ("volta", "turing", "pascal") for g in gpus)
        assert any("V100" in n for n in plan.notes)
    # fp16 autocast runs on a V100 or a T4.
    fp16 = cheapest_fit(10 * GIB, precision="amp-fp16", limit=200)
    assert {f.gpu for f in fp16.fits} & {"V100", "T4"}


def test_fp8_only_on_ada_hopper_and_later() -> None:
    from mlcost.catalog import gpu_architecture

    plan = cheapest_fit(10 * GIB, precision="fp8", limit=100)
    assert {gpu_architecture(f.gpu) for f in plan.fits} <= {"ada", "hopper", "blackwell", "cdna3"}


def test_a_small_model_gets_a_cpu_offer_first_with_time_and_money() -> None:
    from mlcost.plan import GpuRequest, MemoryRequest

    job = MemoryRequest(params=5e6, precision="amp-bf16", batch=8, seq=512)
    plan = GpuRequest(job=job, purchases=("ondemand",), tokens=1e9).run()
    first = plan.fits[0]
    assert first.device == "cpu" and first.gpu_count == 0
    assert first.train_hours is not None and first.train_hours > 0
    assert first.train_cost == pytest.approx(first.train_hours * first.usd_per_hour, rel=1e-2)
    assert any(f.device == "gpu" for f in plan.fits)  # the GPUs still follow
    assert any("CPU instances come first" in n for n in plan.notes)


def test_a_large_model_gets_no_cpu_offer() -> None:
    from mlcost.plan import GpuRequest, MemoryRequest

    plan = GpuRequest(job=MemoryRequest(model="llama-3-8b", mode="lora")).run()
    assert all(f.device == "gpu" for f in plan.fits)
