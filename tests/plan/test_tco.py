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


def test_managed_hidden_costs_and_overheads_are_parameters() -> None:
    # 8 GPUs, 50% used for a year: 35,040 GPU-hours at 6.00 managed = 210,240.00 of compute.
    base = {
        "gpu_hours_per_year": 8760 * 8 * 0.5,
        "capacity_gpus": 8,
        "managed_usd_per_hour": 6.0,
        "ondemand_usd_per_hour": 4.0,
        "reserved_usd_per_hour": 2.6,
    }
    extra = {
        "managed_egress_usd_per_month": 1000.0,
        "managed_storage_usd_per_month": 250.0,
        "managed_usd_per_request": 0.0001,
        "requests_per_month": 10_000_000,
        "managed_overhead_pct": 5.0,
        "overhead_pct": 20.0,
    }
    plain = plan_tco(**base)  # type: ignore[arg-type]
    hidden = plan_tco(**base, **extra)  # type: ignore[arg-type]
    managed = {o.name: o for o in hidden.options}["managed"]
    # 5% of 210,240 + 12 x (1,000 + 250) + 12 x 10M x 0.0001.
    assert managed.overhead == pytest.approx(10_512 + 15_000 + 12_000)
    assert {o.name: o for o in plain.options}["managed"].overhead == 0
    ondemand = {o.name: o for o in hidden.options}["self-hosted on-demand"]
    assert ondemand.overhead == pytest.approx(0.2 * 35_040 * 4.0)
    # Hidden managed costs make self-hosting pay off sooner; at the break-even the two meet.
    be = hidden.break_even_utilization
    assert be is not None and plain.break_even_utilization is not None
    assert be < plain.break_even_utilization
    # At the break-even, with the same requests per used GPU-hour as above.
    at = plan_tco(
        **{**base, "gpu_hours_per_year": 8760 * 8 * be},  # type: ignore[arg-type]
        **{**extra, "requests_per_month": 10_000_000 * be / 0.5},  # type: ignore[arg-type]
    )
    totals = {o.name: o.total for o in at.options}
    assert totals["managed"] == pytest.approx(totals["self-hosted reserved"], rel=1e-3)


def test_negative_hidden_cost_is_refused() -> None:
    with pytest.raises(InvalidInput, match="managed_egress_usd_per_month"):
        plan_tco(
            gpu_hours_per_year=100,
            managed_usd_per_hour=1,
            ondemand_usd_per_hour=1,
            managed_egress_usd_per_month=-1,
        )


def test_token_break_even() -> None:
    from mlcost.plan import token_break_even

    # An endpoint at 4.00 an hour vs an API at 0.50 / 1.50 per 1M tokens, 75% input: the API
    # costs 0.75 per 1M tokens of this mix, so 4.00 buys 5.33M tokens an hour = 1,481.5/s.
    b = token_break_even(
        self_hosted_usd_per_hour=4.0,
        api_usd_per_1m_input=0.5,
        api_usd_per_1m_output=1.5,
        input_share=0.75,
        measured_tokens_per_second=500.0,
        measured_utilization=0.2,
    )
    assert b.api_usd_per_1m_tokens == pytest.approx(0.75)
    assert b.break_even_tokens_per_second == pytest.approx(4.0 / 3600 / 0.75e-6, rel=1e-4)
    assert b.cheaper == "api"  # 500 tokens/s is below it
    assert b.break_even_utilization == pytest.approx(0.2 * 1481.481 / 500, rel=1e-3)
    with pytest.raises(InvalidInput, match="input share"):
        token_break_even(
            self_hosted_usd_per_hour=1,
            api_usd_per_1m_input=1,
            api_usd_per_1m_output=1,
            input_share=1.5,
        )
