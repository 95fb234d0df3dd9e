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
