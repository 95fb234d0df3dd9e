"""Total cost of ownership over a horizon: managed service vs self-hosted on-demand, reserved and
spot, including engineering time, overheads and the managed service's hidden costs.

Self-hosted on-demand and spot pay for used hours only (idle capacity is shut down); reserved
pays every hour of the term; a managed service charges its per-hour rate for used hours and needs
little engineering, plus what its price list leaves out: egress and storage per month and a
fee per request (``managed_*`` arguments, 0 unless given). ``overhead_pct`` (storage, network,
monitoring of self-hosting) and ``spot_overhead_pct`` (hours lost to interruptions) are
arguments with 10% defaults, not constants: measure yours. Break-even: the utilization above
which reserved self-hosting beats managed, hidden costs included.

    >>> t = plan_tco(gpu_hours_per_year=8760 * 8 * 0.9, capacity_gpus=8, managed_usd_per_hour=6.0,
    ...              ondemand_usd_per_hour=4.0, reserved_usd_per_hour=2.6)
    >>> t.cheapest, t.break_even_utilization
    ('self-hosted reserved', 0.5718)

Tokens: :func:`token_break_even` is the same question for an LLM endpoint against an API's
price per 1M input and output tokens: the tokens per second above which the endpoint's hourly
cost buys tokens cheaper than the API, for the measured input/output mix.

    >>> b = token_break_even(self_hosted_usd_per_hour=4.0, api_usd_per_1m_input=0.5,
    ...                      api_usd_per_1m_output=1.5, input_share=0.75)
    >>> round(b.break_even_tokens_per_second, 1)
    1481.5
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mlcost.errors import InvalidInput

__all__ = [
    "TcoOption",
    "TcoPlan",
    "TokenBreakEven",
    "api_comparison",
    "plan_tco",
    "token_break_even",
    "versus_api",
]

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class TcoOption:
    name: str
    compute: float
    engineering: float
    overhead: float
    total: float
    currency: str = "USD"


@dataclass(frozen=True)
class TcoPlan:
    horizon_months: int
    utilization: float
    options: tuple[TcoOption, ...]
    cheapest: str
    break_even_utilization: float | None
    currency: str = "USD"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "options": [asdict(o) for o in self.options]}


def plan_tco(
    *,
    gpu_hours_per_year: float,
    managed_usd_per_hour: float,
    ondemand_usd_per_hour: float,
    reserved_usd_per_hour: float | None = None,
    spot_usd_per_hour: float | None = None,
    capacity_gpus: int = 1,
    horizon_months: int = 12,
    engineer_usd_per_year: float = 200_000.0,
    self_hosted_fte: float = 0.25,
    managed_fte: float = 0.05,
    overhead_pct: float = 10.0,
    spot_overhead_pct: float = 10.0,
    managed_overhead_pct: float = 0.0,
    managed_egress_usd_per_month: float = 0.0,
    managed_storage_usd_per_month: float = 0.0,
    managed_usd_per_request: float = 0.0,
    requests_per_month: float = 0.0,
) -> TcoPlan:
    """Costs per option over ``horizon_months``; utilization = used hours / capacity hours.

    ``overhead_pct`` is storage, network and monitoring on top of self-hosted compute;
    ``spot_overhead_pct`` the extra hours lost to interruptions (see ``plan spot``). The
    managed option's overhead is ``managed_overhead_pct`` of its compute plus egress and
    storage per month plus ``managed_usd_per_request`` × ``requests_per_month`` (requests at
    the given GPU-hours; the break-even scales them with use).
    """
    years = horizon_months / 12
    capacity_hours = HOURS_PER_YEAR * capacity_gpus
    if gpu_hours_per_year <= 0 or gpu_hours_per_year > capacity_hours:
        raise InvalidInput(
            f"GPU-hours per year must be in (0, {capacity_hours:.0f}] for {capacity_gpus} GPU(s)",
            fix="raise --gpus or lower the hours",
        )
    if min(managed_usd_per_hour, ondemand_usd_per_hour) <= 0 or horizon_months <= 0:
        raise InvalidInput("prices and the horizon must be positive")
    hidden = {
        "managed_overhead_pct": managed_overhead_pct,
        "managed_egress_usd_per_month": managed_egress_usd_per_month,
        "managed_storage_usd_per_month": managed_storage_usd_per_month,
        "managed_usd_per_request": managed_usd_per_request,
        "requests_per_month": requests_per_month,
        "overhead_pct": overhead_pct,
        "spot_overhead_pct": spot_overhead_pct,
    }
    negative = [k for k, v in hidden.items() if v < 0]
    if negative:
        raise InvalidInput(f"{negative[0]} is negative", fix="give 0 or more")
    used = gpu_hours_per_year * years
    eng_self = engineer_usd_per_year * self_hosted_fte * years
    eng_managed = engineer_usd_per_year * managed_fte * years
    over = 1 + overhead_pct / 100
    months = float(horizon_months)
    fixed_managed = (managed_egress_usd_per_month + managed_storage_usd_per_month) * months
    # Per-request fees per used GPU-hour, so that they scale with use.
    fee_per_hour = managed_usd_per_request * requests_per_month * 12 / gpu_hours_per_year

    def option(name: str, compute: float, eng: float, extra: float) -> TcoOption:
        return TcoOption(
            name, round(compute, 2), round(eng, 2), round(extra, 2), round(compute + eng + extra, 2)
        )

    managed_compute = used * managed_usd_per_hour
    managed_extra = (
        managed_compute * managed_overhead_pct / 100 + fixed_managed + fee_per_hour * used
    )

    def self_hosted(name: str, compute: float) -> TcoOption:
        return option(name, compute, eng_self, compute * (over - 1))

    options = [
        option("managed", managed_compute, eng_managed, managed_extra),
        self_hosted("self-hosted on-demand", used * ondemand_usd_per_hour),
    ]
    if reserved_usd_per_hour:
        options.append(
            self_hosted("self-hosted reserved", capacity_hours * years * reserved_usd_per_hour)
        )
    if spot_usd_per_hour:
        options.append(
            self_hosted(
                "self-hosted spot", used * (1 + spot_overhead_pct / 100) * spot_usd_per_hour
            )
        )
    break_even = None
    if reserved_usd_per_hour:
        # managed(u) = u·H·(price·(1 + overhead) + fees) + fixed + eng  =  reserved total
        fixed = (
            capacity_hours * years * reserved_usd_per_hour * over
            + eng_self
            - eng_managed
            - fixed_managed
        )
        per_used_hour = managed_usd_per_hour * (1 + managed_overhead_pct / 100) + fee_per_hour
        break_even = round(min(1.0, max(0.0, fixed / (capacity_hours * years * per_used_hour))), 4)
    cheapest = min(options, key=lambda o: o.total).name
    return TcoPlan(
        horizon_months,
        round(gpu_hours_per_year / capacity_hours, 4),
        tuple(options),
        cheapest,
        break_even,
    )


@dataclass(frozen=True)
class TokenBreakEven:
    """Self-hosted endpoint vs an LLM API, per second of traffic at one input/output mix.

    ``break_even_tokens_per_second``: the mean traffic at which the endpoint's hourly cost
    equals what the API would charge for the same tokens; above it self-hosting is cheaper.
    ``break_even_utilization``: the same as GPU utilization, assuming throughput grows in
    proportion to utilization from the measured point (None without a measurement).
    """

    self_hosted_usd_per_hour: float
    api_usd_per_1m_tokens: float  # at the input/output mix
    input_share: float
    break_even_tokens_per_second: float
    measured_tokens_per_second: float | None
    measured_utilization: float | None
    break_even_utilization: float | None
    cheaper: str | None  # "self-hosted" or "api" at the measured traffic
    currency: str = "USD"


def token_break_even(
    *,
    self_hosted_usd_per_hour: float,
    api_usd_per_1m_input: float,
    api_usd_per_1m_output: float,
    input_share: float,
    measured_tokens_per_second: float | None = None,
    measured_utilization: float | None = None,
    currency: str = "USD",
) -> TokenBreakEven:
    """Where self-hosting beats the API price, for tokens that are ``input_share`` input."""
    if not 0 <= input_share <= 1:
        raise InvalidInput(f"input share {input_share} is not between 0 and 1")
    if min(api_usd_per_1m_input, api_usd_per_1m_output) < 0 or self_hosted_usd_per_hour < 0:
        raise InvalidInput("prices must be zero or more")
    mix = input_share * api_usd_per_1m_input + (1 - input_share) * api_usd_per_1m_output
    if mix <= 0:
        raise InvalidInput(
            "the API price at this mix is zero: nothing to break even with",
            fix="give --api-input-price / --api-output-price in USD per 1M tokens",
        )
    tps = self_hosted_usd_per_hour / 3600 / (mix / 1e6)
    util = None
    if measured_tokens_per_second and measured_utilization:
        util = round(min(1.0, measured_utilization * tps / measured_tokens_per_second), 4)
    cheaper = None
    if measured_tokens_per_second is not None:
        cheaper = "self-hosted" if measured_tokens_per_second > tps else "api"
    return TokenBreakEven(
        round(self_hosted_usd_per_hour, 6),
        round(mix, 6),
        round(input_share, 6),
        round(tps, 3),
        None if measured_tokens_per_second is None else round(measured_tokens_per_second, 3),
        measured_utilization,
        util,
        cheaper,
        currency,
    )


def api_comparison(
    traffic: Mapping[str, Any] | None, api_usd_per_1m_input: float, api_usd_per_1m_output: float
) -> TokenBreakEven | None:
    """:func:`token_break_even` at a measured traffic shape (the ``traffic`` of a model's row
    of ``mlcost units``: ``self_hosted_usd_per_hour``, ``input_share``, ``tokens_per_second``,
    ``utilization``); None without one."""
    if not traffic:
        return None
    return token_break_even(
        self_hosted_usd_per_hour=float(traffic["self_hosted_usd_per_hour"]),
        api_usd_per_1m_input=api_usd_per_1m_input,
        api_usd_per_1m_output=api_usd_per_1m_output,
        input_share=float(traffic["input_share"]),
        measured_tokens_per_second=traffic.get("tokens_per_second"),
        measured_utilization=traffic.get("utilization"),
        currency=str(traffic.get("currency") or "USD"),
    )


def versus_api(
    rows: Iterable[Mapping[str, Any]], usd_per_1m_input: float, usd_per_1m_output: float
) -> tuple[list[dict[str, Any]], str]:
    """``mlcost units --by model`` rows, each with ``vs_api`` (:func:`api_comparison` at its
    ``traffic``, as a dict; None without traffic), and the note that says how to read it."""
    out = []
    for r in rows:
        b = api_comparison(r.get("traffic"), usd_per_1m_input, usd_per_1m_output)
        out.append({**r, "vs_api": None if b is None else asdict(b)})
    note = (
        f"vs_api: an API at {usd_per_1m_input} / {usd_per_1m_output} per 1M input / output "
        "tokens; self-hosting is cheaper above break_even_tokens_per_second (mean, per "
        "endpoint, at the measured input/output mix); break_even_utilization assumes "
        "throughput grows with GPU utilization from the measured point."
    )
    return out, note
