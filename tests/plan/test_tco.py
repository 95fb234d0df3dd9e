"""TCO over a horizon, and the break-even utilization."""

from __future__ import annotations

import pytest

from mlcost.errors import InvalidInput
from mlcost.plan.tco import plan_tco


def test_low_utilization_favors_managed_high_favors_reserved() -> None:
    args = {
        "capacity_gpus": 8,
        "managed_usd_per_hour": 6.0,
        "ondemand_usd_per_hour": 4.0,
        "reserved_usd_per_hour": 2.6,
    }
    low = plan_tco(gpu_hours_per_year=8760 * 8 * 0.2, **args)  # type: ignore[arg-type]
    high = plan_tco(gpu_hours_per_year=8760 * 8 * 0.9, **args)  # type: ignore[arg-type]
    assert low.cheapest == "managed"
    assert high.cheapest == "self-hosted reserved"
    assert low.break_even_utilization == high.break_even_utilization
    be = high.break_even_utilization
    assert be is not None
    at = plan_tco(gpu_hours_per_year=8760 * 8 * be, **args)  # type: ignore[arg-type]
    totals = {o.name: o.total for o in at.options}
    assert totals["managed"] == pytest.approx(totals["self-hosted reserved"], rel=1e-3)


def test_bad_hours() -> None:
    with pytest.raises(InvalidInput, match="GPU-hours"):
        plan_tco(gpu_hours_per_year=10_000, managed_usd_per_hour=1, ondemand_usd_per_hour=1)
