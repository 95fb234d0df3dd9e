"""What every detector reads: the window, owners, and GPU resources hour by hour.

The aggregations are Ibis expressions (they must run on other engines); detectors get the
small, aggregated result (one row per GPU resource and hour) and read patterns in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlcost.config import AttributionConfig

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.attribution.tags import TagRules
    from mlcost.warehouse import Warehouse

__all__ = ["COMMITMENT_LOOKBACK_DAYS", "DAYS_PER_MONTH", "Context", "GpuHour", "HourRow"]

DAYS_PER_MONTH = 30  # monthly saving = saving over the window x 30 / window days
# A 1-year commitment is judged on at least this much history (a month holds its weekly and
# month-end cycles); ``Context.commitment_lookback_days`` changes it.
COMMITMENT_LOOKBACK_DAYS = 30.0


@dataclass(frozen=True, slots=True)
class HourRow:
    """One billed GPU resource in one hour, with what its GPUs did in that hour."""

    resource_id: str
    hour: datetime
    cost: Decimal  # EffectiveCost of the hour
    instance_type: str | None
    gpu_count: int
    gpu_model: str | None
    pricing: str | None  # FOCUS PricingCategory: Standard (on-demand), Dynamic (spot), Committed
    region: str | None
    provider: str | None
    owner: str | None
    util_max: float | None  # highest GPU utilization seen in the hour, 0..1 (None: no data)
    util_mean: float | None
    memory_max_bytes: int | None
    memory_total_bytes: int | None


@dataclass(frozen=True, slots=True)
class GpuHour:
    """One GPU of a billed resource in one hour: what that GPU alone reported."""

    gpu: str  # the GPU's UUID where the source gave it, else its index
    index: int | None
    hour: datetime
    util_max: float  # 0..1
    util_mean: float


@dataclass
class Context:
    """A warehouse, the window the detectors look at, and the owner tag rules."""

    wh: Warehouse
    config: AttributionConfig = field(default_factory=AttributionConfig)
    start: datetime | None = None
    end: datetime | None = None
    commitment_lookback_days: float = COMMITMENT_LOOKBACK_DAYS

    @cached_property
    def rules(self) -> TagRules:
        from mlcost.attribution.tags import learn_tag_rules

        return learn_tag_rules(self.wh, self.config)

    def lines(self) -> ir.Table:
        """Cost line items of the window, with ``owner`` (the canonical owner tag)."""
        t = self.wh.table("cost_line_items")
        if self.start is not None:
            t = t.filter(t.ChargePeriodStart >= self.start)
        if self.end is not None:
            t = t.filter(t.ChargePeriodStart < self.end)
        return t.mutate(owner=self.rules.value(t.Tags, self.config.owner))

    @cached_property
    def window(self) -> tuple[datetime, datetime]:
        t = self.lines()
        # Usage-based rows only: monthly charges (support, tax) span the calendar month.
        t = t.filter(t.ChargeFrequency.isnull() | (t.ChargeFrequency == "Usage-Based"))
        row = t.aggregate(a=t.ChargePeriodStart.min(), b=t.ChargePeriodEnd.max()).execute()
        a, b = row["a"][0], row["b"][0]
        if a is None or b is None or str(a) == "NaT":
            now = datetime(1970, 1, 1)
            return now, now
        return a.to_pydatetime(), b.to_pydatetime()

    @property
    def days(self) -> float:
        a, b = self.window
        return max((b - a).total_seconds() / 86400, 1 / 24)

    def monthly(self, window_amount: Decimal, *, days: float | None = None) -> Decimal:
        """Money over the window (or over ``days`` of it) scaled to 30 days."""
        from mlcost.insights._finding import money

        d = self.days if days is None else days
        return money(window_amount * Decimal(DAYS_PER_MONTH) / Decimal(str(round(d, 6))))

    @property
    def monthly_factor(self) -> float:
        return round(DAYS_PER_MONTH / self.days, 6)

    def interval(
        self, hours: Sequence[HourRow], level: float = 0.8
    ) -> tuple[Decimal, Decimal, dict[str, Any]]:
        """An interval (``level``, 80 % by default) of the monthly saving from the day-by-day
        money of ``hours`` over the window's whole days: 30 x (mean +- t x sd / sqrt(days)),
        Student's t with days - 1 degrees of freedom. A short window or uneven days widen
        it; with fewer than two days it is (0, twice the estimate). Returns low, high and the
        evidence that redoes it."""
        import math
        import statistics

        a, _ = self.window
        n = max(1, math.floor(self.days + 1e-9))
        daily = [0.0] * n
        for h in hours:
            i = int((h.hour - a).total_seconds() // 86400)
            if 0 <= i < n:
                daily[i] += float(h.cost)
        mean = statistics.fmean(daily)
        if n < 2:
            lo, hi, t, sd = 0.0, 2 * mean, math.inf, math.nan
        else:
            sd = statistics.stdev(daily)
            t = t_quantile(0.5 + level / 2, n - 1)
            lo, hi = max(0.0, mean - t * sd / math.sqrt(n)), mean + t * sd / math.sqrt(n)
        from mlcost.insights._finding import money

        evidence = {
            "interval": {
                "level": level,
                "days": n,
                "daily_mean": round(mean, 2),
                "daily_sd": None if math.isnan(sd) else round(sd, 2),
                "t": None if math.isinf(t) else round(t, 4),
                "formula": f"{DAYS_PER_MONTH:g} x (daily_mean +- t x daily_sd / sqrt(days))",
            }
        }
        return money(lo * DAYS_PER_MONTH), money(hi * DAYS_PER_MONTH), evidence

    def window_evidence(self) -> dict[str, str]:
        """The window the detectors read (the data's own range inside the one asked for)."""
        a, b = self.window
        return {"window_start": f"{a:%Y-%m-%dT%H:%MZ}", "window_end": f"{b:%Y-%m-%dT%H:%MZ}"}

    def scaling(
        self, window_waste: Decimal, formula: str, *, days: float | None = None
    ) -> dict[str, Any]:
        """The evidence keys that redo a monthly saving by hand: the window's money, the window's
        days (or the ``days`` of it the saving is read from), the factor to 30 days and the
        formula."""
        from mlcost.insights._finding import money

        d = self.days if days is None else days
        return {
            **self.window_evidence(),
            "window_waste": float(money(window_waste)),
            "window_days": round(d, 4),
            "monthly_factor": round(DAYS_PER_MONTH / d, 6),
            "saving_formula": formula,
        }

    def samples(self) -> ir.Table:
        """GPU samples with ``rid``, the billed ResourceId their host name links to."""
        s = self.wh.table("gpu_samples")
        links = self.wh.table("resource_links")
        s = s.join(links, s.resource_id == links.name)
        return s.mutate(rid=s.billed_resource_id)

    @cached_property
    def gpu_hours(self) -> dict[str, list[HourRow]]:
        """Billed GPU resources hour by hour with their telemetry, by ResourceId, in order."""
        import ibis

        from mlcost.warehouse import iter_rows

        t = self.lines()
        t = t.filter(
            (t.ChargeCategory == "Usage")
            & t.ResourceId.notnull()
            & (t.x_GpuCount.cast("float64") > 0)
        )
        c = t.group_by(rid=t.ResourceId, hour=t.ChargePeriodStart.truncate("h")).aggregate(
            cost=t.EffectiveCost.sum(),
            instance_type=t.x_InstanceType.max(),
            gpu_count=t.x_GpuCount.cast("float64").max(),
            gpu_model=t.x_GpuModel.max(),
            pricing=t.PricingCategory.max(),
            region=t.RegionId.max(),
            provider=t.ServiceProviderName.max(),
            owner=t.owner.max(),
        )
        s = self.samples()
        u = s.group_by(srid=s.rid, shour=s.time.truncate("h")).aggregate(
            util_max=ibis.coalesce(s.utilization_max, s.utilization).max(),
            util_mean=s.utilization.mean(),
            memory_max=ibis.coalesce(s.memory_used_max_bytes, s.memory_used_bytes).max(),
            memory_total=s.memory_total_bytes.max(),
        )
        j = c.left_join(u, (c.rid == u.srid) & (c.hour == u.shour))
        j = j.select(*c.columns, "util_max", "util_mean", "memory_max", "memory_total")
        out: dict[str, list[HourRow]] = {}
        for r in iter_rows(j, ["rid", "hour"]):
            out.setdefault(r["rid"], []).append(_row(r))
        return out

    @cached_property
    def per_gpu_hours(self) -> dict[str, dict[str, list[GpuHour]]]:
        """Each GPU of each multi-GPU billed resource hour by hour: ResourceId -> GPU -> hours.

        A GPU is named by its UUID (stable across reboots and re-indexing), else by its index
        (nvidia-smi ``index``, DCGM ``gpu``); samples that name neither are left out here (the
        resource's hourly maximum in :attr:`gpu_hours` still counts them).
        """
        import ibis

        from mlcost.warehouse import iter_rows

        multi = [rid for rid, rows in self.gpu_hours.items() if rows[0].gpu_count > 1]
        if not multi:
            return {}
        s = self.samples()
        s = s.filter(s.rid.isin(multi))
        gpu = ibis.coalesce(s.gpu_uuid, s.gpu_index.cast("string"))
        s = s.filter(gpu.notnull()).mutate(gpu=gpu)
        u = s.group_by(rid=s.rid, gpu=s.gpu, hour=s.time.truncate("h")).aggregate(
            index=s.gpu_index.max(),
            util_max=ibis.coalesce(s.utilization_max, s.utilization).max(),
            util_mean=s.utilization.mean(),
        )
        u = u.filter(u.util_max.notnull())
        out: dict[str, dict[str, list[GpuHour]]] = {}
        for r in iter_rows(u, ["rid", "gpu", "hour"]):
            hours = out.setdefault(r["rid"], {}).setdefault(r["gpu"], [])
            gpu = hours[0].gpu if hours else r["gpu"]  # one name object per GPU, not per hour
            hours.append(
                GpuHour(
                    gpu=gpu,
                    index=None if r["index"] is None else int(r["index"]),
                    hour=r["hour"],
                    util_max=float(r["util_max"]),
                    util_mean=float(r["util_mean"] if r["util_mean"] is not None else 0.0),
                )
            )
        return out


def _row(r: dict[str, Any]) -> HourRow:
    def num(x: Any) -> float | None:
        return None if x is None else float(x)

    def whole(x: Any) -> int | None:
        return None if x is None else int(x)

    return HourRow(
        resource_id=r["rid"],
        hour=r["hour"],
        cost=Decimal(str(r["cost"] or 0)),
        instance_type=r["instance_type"],
        gpu_count=int(r["gpu_count"] or 0),
        gpu_model=r["gpu_model"],
        pricing=r["pricing"],
        region=r["region"],
        provider=r["provider"],
        owner=r["owner"],
        util_max=num(r["util_max"]),
        util_mean=num(r["util_mean"]),
        memory_max_bytes=whole(r["memory_max"]),
        memory_total_bytes=whole(r["memory_total"]),
    )


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile: exact for 1 and 2 degrees of freedom, else the Cornish-Fisher
    expansion around the normal quantile (within 0.2 % from 3 degrees of freedom).

    >>> round(t_quantile(0.9, 1), 3), round(t_quantile(0.9, 2), 3), round(t_quantile(0.9, 9), 3)
    (3.078, 1.886, 1.383)
    """
    import math
    from statistics import NormalDist

    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3
