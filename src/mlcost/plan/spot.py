"""Spot economics: expected cost and wall time on spot versus on-demand, with checkpointing.

Interruptions are a Poisson process with mean time between interruptions ``M``. A job of ``W``
hours of work checkpoints every ``tau`` hours of work, each checkpoint taking ``C``; after an
interruption, a restart takes ``R`` and the work since the last checkpoint is lost. The expected
time of one segment of ``t`` work is exactly ``M e^(R/M) (e^((t+C)/M) - 1)`` (Daly 2006, "A
higher order estimate of the optimum checkpoint interval for restart dumps", FGCS 22(3), eq. 6);
the job is a sum of segments. Optimal interval: Young 1974 (CACM 17(9)) ``sqrt(2 C M)`` and Daly
2006's higher-order form. ``simulate`` draws the same process (Monte Carlo) to check the formula.

AWS Spot Advisor buckets give the share of instances reclaimed over a month; we turn a bucket into
a rate with its midpoint (">20%" taken as 25%), ``rate = -ln(1 - p) / 730`` per hour.

    >>> plan = plan_spot(work_hours=24, ondemand_usd_per_hour=10, spot_usd_per_hour=3,
    ...                  interruptions_per_hour=0.01, checkpoint_minutes=2, restart_minutes=10)
    >>> plan.worth_it
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mlcost.catalog import nearest
from mlcost.errors import InvalidInput, UnknownName

__all__ = [
    "BUCKET_MONTHLY_SHARE",
    "SpotPlan",
    "daly_interval",
    "expected_hours",
    "plan_spot",
    "plan_spot_for",
    "rate_from_bucket",
    "simulate",
    "young_interval",
]

BUCKET_MONTHLY_SHARE = {
    "<5%": 0.025,
    "5-10%": 0.075,
    "10-15%": 0.125,
    "15-20%": 0.175,
    ">20%": 0.25,
}
HOURS_PER_MONTH = 730.0


def rate_from_bucket(bucket: str) -> float:
    """Interruptions per instance-hour for an AWS Spot Advisor bucket."""
    if bucket not in BUCKET_MONTHLY_SHARE:
        raise UnknownName("interruption bucket", bucket, nearest(bucket, BUCKET_MONTHLY_SHARE))
    return -math.log(1 - BUCKET_MONTHLY_SHARE[bucket]) / HOURS_PER_MONTH


def young_interval(checkpoint_hours: float, mtbi_hours: float) -> float:
    """Young (1974): ``sqrt(2 C M)`` hours of work between checkpoints."""
    return math.sqrt(2 * checkpoint_hours * mtbi_hours)


def daly_interval(checkpoint_hours: float, mtbi_hours: float) -> float:
    """Daly (2006), eq. 37: the higher-order optimum; ``M`` when ``C >= 2M``."""
    c, m = checkpoint_hours, mtbi_hours
    if c >= 2 * m:
        return m
    x = c / (2 * m)
    return math.sqrt(2 * c * m) * (1 + math.sqrt(x) / 3 + x / 9) - c


def _segments(work: float, tau: float) -> list[tuple[float, int]]:
    full = int(work // tau)
    rest = work - full * tau
    return [(tau, full)] + ([(rest, 1)] if rest > 1e-12 else [])


def expected_hours(work: float, tau: float, c: float, r: float, mtbi: float) -> float:
    """Expected wall hours for ``work`` hours split into segments of ``tau`` (closed form)."""
    if math.isinf(mtbi):
        return work + c * math.ceil(work / tau)
    try:
        return sum(
            n * mtbi * math.exp(r / mtbi) * math.expm1((t + c) / mtbi)
            for t, n in _segments(work, tau)
        )
    except OverflowError:  # e^(x) past 1.8e308: the job is not expected to finish
        return math.inf


def simulate(
    work: float, tau: float, c: float, r: float, mtbi: float, runs: int = 100_000, seed: int = 0
) -> list[float]:
    """Wall hours of ``runs`` simulated jobs (Monte Carlo of the same process), as floats."""
    import numpy as np

    rng = np.random.default_rng(seed)
    total = np.zeros(runs)
    for t, n in _segments(work, tau):
        first, retry = t + c, r + t + c
        p_first, p_retry = math.exp(-first / mtbi), math.exp(-retry / mtbi)
        for _ in range(n):
            ok = rng.random(runs) < p_first
            # A failed first try wastes a time-to-failure truncated below ``first``.
            u = rng.random(runs)
            waste = -mtbi * np.log1p(-u * (1 - p_first))
            # Then K failed retries (geometric), each wasting a truncated time, then one success.
            k = rng.geometric(p_retry, runs) - 1
            kk = np.repeat(np.arange(runs), k)
            w = -mtbi * np.log1p(-rng.random(kk.size) * (1 - p_retry))
            retries = np.bincount(kk, weights=w, minlength=runs) + retry
            total += np.where(ok, first, waste + retries)
    return [float(v) for v in total]


def plan_spot_for(
    work_hours: float,
    *,
    instance: str | None = None,
    region: str | None = None,
    ondemand_price: float | None = None,
    spot_price: float | None = None,
    interruption: str | None = None,
    rate: float | None = None,
    **options: Any,
) -> SpotPlan:
    """:func:`plan_spot` with what the caller did not give taken from an instance type's
    catalog offers: its prices and its most common interruption bucket. ``options`` go to
    :func:`plan_spot` (checkpoint_minutes, restart_minutes, pools, ...)."""
    from mlcost.catalog import hourly_price, offers

    if instance is not None:
        ondemand_price = ondemand_price or hourly_price(instance, region=region)
        spot_price = spot_price or hourly_price(instance, region=region, purchase="spot")
        if interruption is None and rate is None:
            buckets = [
                o.interruption
                for o in offers()
                if o.instance_type == instance
                and (region is None or o.region == region)
                and o.interruption
            ]
            interruption = max(buckets, key=buckets.count) if buckets else None
    if ondemand_price is None or spot_price is None:
        raise InvalidInput("no prices", fix="give --instance, or --ondemand-price and --spot-price")
    if rate is None:
        if interruption is None:
            raise InvalidInput("no interruption rate", fix="give --interruption BUCKET or --rate")
        rate = rate_from_bucket(interruption)
    return plan_spot(
        work_hours=work_hours,
        ondemand_usd_per_hour=ondemand_price,
        spot_usd_per_hour=spot_price,
        interruptions_per_hour=rate,
        **options,
    )


@dataclass(frozen=True)
class SpotPlan:
    """Spot versus on-demand for one job. Money in ``currency`` (USD)."""

    work_hours: float
    interruptions_per_hour: float
    checkpoint_interval_hours: float
    young_interval_hours: float
    daly_interval_hours: float
    spot_wall_hours: float
    spot_cost: float
    ondemand_wall_hours: float
    ondemand_cost: float
    saving: float
    saving_pct: float
    pools: int
    worth_it: bool
    verdict: str
    currency: str = "USD"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_spot(
    *,
    work_hours: float,
    ondemand_usd_per_hour: float,
    spot_usd_per_hour: float,
    interruptions_per_hour: float,
    checkpoint_minutes: float = 5.0,
    restart_minutes: float = 10.0,
    capacity_wait_minutes: float = 0.0,
    pools: int = 1,
    interval_hours: float | None = None,
    deadline_hours: float | None = None,
) -> SpotPlan:
    """Expected cost and time on spot vs on-demand, at the Daly-optimal checkpoint interval
    unless ``interval_hours`` is given. Diversifying over ``pools`` independent instance types or
    zones divides the wait for replacement capacity by ``pools`` (a simple model: the first pool
    with capacity wins)."""
    for name, v in (
        ("work hours", work_hours),
        ("on-demand price", ondemand_usd_per_hour),
        ("spot price", spot_usd_per_hour),
    ):
        if v <= 0:
            raise InvalidInput(f"{name} must be positive, got {v}")
    for name, v in (
        ("interruption rate", interruptions_per_hour),
        ("checkpoint minutes", checkpoint_minutes),
        ("restart minutes", restart_minutes),
    ):
        if v < 0:
            raise InvalidInput(f"{name} must be zero or more, got {v}")
    if pools < 1:
        raise InvalidInput(f"pools must be at least 1, got {pools}")
    c = checkpoint_minutes / 60
    r = (restart_minutes + capacity_wait_minutes / pools) / 60
    mtbi = 1 / interruptions_per_hour if interruptions_per_hour > 0 else math.inf
    young = young_interval(c, mtbi) if c > 0 and mtbi != math.inf else work_hours
    daly = daly_interval(c, mtbi) if c > 0 and mtbi != math.inf else work_hours
    tau = min(interval_hours or daly, work_hours)
    if tau <= 0:
        raise InvalidInput(f"checkpoint interval must be positive, got {tau}")
    wall = expected_hours(work_hours, tau, c, r, mtbi)
    spot_cost = wall * spot_usd_per_hour
    od_cost = work_hours * ondemand_usd_per_hour
    saving = od_cost - spot_cost
    late = deadline_hours is not None and wall > deadline_hours
    worth = saving > 0 and not late
    if worth:
        verdict = (
            f"Spot saves {saving:,.2f} USD ({saving / od_cost:.0%}) and takes "
            f"{wall - work_hours:.1f} h longer; checkpoint every {tau * 60:.0f} min."
        )
    elif late:
        verdict = (
            f"Spot is not worth it: expected {wall:.1f} h misses the {deadline_hours} h "
            "deadline. Use on-demand, or checkpoint faster."
        )
    else:
        verdict = (
            f"Spot is not worth it: interruptions make it cost {-saving:,.2f} USD more than "
            "on-demand. Use on-demand or reserved capacity."
        )
    return SpotPlan(
        work_hours=work_hours,
        interruptions_per_hour=interruptions_per_hour,
        checkpoint_interval_hours=tau,
        young_interval_hours=young,
        daly_interval_hours=daly,
        spot_wall_hours=wall,
        spot_cost=round(spot_cost, 2),
        ondemand_wall_hours=work_hours,
        ondemand_cost=round(od_cost, 2),
        saving=round(saving, 2),
        saving_pct=round(100 * saving / od_cost, 1),
        pools=pools,
        worth_it=worth,
        verdict=verdict,
    )
