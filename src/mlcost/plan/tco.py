"""Total cost of ownership over a horizon: managed service vs self-hosted on-demand, reserved and
spot, including engineering time and overhead, at a steady utilization.

Self-hosted on-demand and spot pay for used hours only (idle capacity is shut down); reserved
pays every hour of the term; a managed service charges its per-hour rate for used hours and needs
little engineering. Break-even: the utilization above which reserved self-hosting beats managed.

    >>> t = plan_tco(gpu_hours_per_year=8760 * 8 * 0.9, capacity_gpus=8, managed_usd_per_hour=6.0,
    ...              ondemand_usd_per_hour=4.0, reserved_usd_per_hour=2.6)
    >>> t.cheapest, t.break_even_utilization
    ('self-hosted reserved', 0.5718)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcost.errors import InvalidInput

__all__ = ["TcoOption", "TcoPlan", "plan_tco"]

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
) -> TcoPlan:
    """Costs per option over ``horizon_months``; utilization = used hours / capacity hours.

    ``overhead_pct`` is storage, network and monitoring on top of self-hosted compute;
    ``spot_overhead_pct`` the extra hours lost to interruptions (see ``plan spot``).
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
    used = gpu_hours_per_year * years
    eng_self = engineer_usd_per_year * self_hosted_fte * years
    eng_managed = engineer_usd_per_year * managed_fte * years
    over = 1 + overhead_pct / 100

    def option(name: str, compute: float, eng: float, overhead: bool) -> TcoOption:
        extra = compute * (over - 1) if overhead else 0.0
        return TcoOption(
            name, round(compute, 2), round(eng, 2), round(extra, 2), round(compute + eng + extra, 2)
        )

    options = [
        option("managed", used * managed_usd_per_hour, eng_managed, False),
        option("self-hosted on-demand", used * ondemand_usd_per_hour, eng_self, True),
    ]
    if reserved_usd_per_hour:
        options.append(
            option(
                "self-hosted reserved",
                capacity_hours * years * reserved_usd_per_hour,
                eng_self,
                True,
            )
        )
    if spot_usd_per_hour:
        options.append(
            option(
                "self-hosted spot",
                used * (1 + spot_overhead_pct / 100) * spot_usd_per_hour,
                eng_self,
                True,
            )
        )
    break_even = None
    if reserved_usd_per_hour:
        fixed = capacity_hours * years * reserved_usd_per_hour * over + eng_self - eng_managed
        break_even = round(min(1.0, fixed / (capacity_hours * years * managed_usd_per_hour)), 4)
    cheapest = min(options, key=lambda o: o.total).name
    return TcoPlan(
        horizon_months,
        round(gpu_hours_per_year / capacity_hours, 4),
        tuple(options),
        cheapest,
        break_even,
    )
