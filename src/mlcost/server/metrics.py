"""Prometheus ``/metrics``: costs, idle GPU cost, budget use and open savings, on scrape.

Its own ``CollectorRegistry`` per app (never the process-global one) holds one collector
that reads the warehouse when Prometheus scrapes (answers cached while the file is unchanged).
Metrics, all in USD (rows billed in other currencies are left out):

- ``mlcost_cost_usd{team,project,model,env,workload_type}``: EffectiveCost of the latest
  month of the owner model (``attribution.model.owner_rows``, as built: the same rows as
  showback, so shared costs and idle GPU are in; read the same way on every engine);
- ``mlcost_cost_period_start_timestamp_seconds``: the start of that month;
- ``mlcost_gpu_idle_cost_usd{team}``: its idle GPU cost per team;
- ``mlcost_budget_utilization_ratio{budget}``: spent / amount in the current period;
- ``mlcost_insights_open_saving_usd{kind}``: expected monthly saving of the open findings
  whose saving recurs (money already spent once, a runaway or an anomaly, is not in it).

Needs a token with ``read:all`` or ``admin`` (Prometheus: ``authorization: {credentials: …}``
in the scrape config) unless the server runs with ``--no-auth``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlcost.server.auth import Principal, authorized, require_read_all
from mlcost.server.models import ERROR_RESPONSES

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.config import AttributionConfig, Settings
    from mlcost.server._state import Reader
    from mlcost.warehouse import Warehouse

__all__ = ["COST_LABELS", "WarehouseCollector", "router"]

router = APIRouter()
COST_LABELS = ("team", "project", "model", "env", "workload_type")
USD = "USD"


def _model(wh: Warehouse, config: AttributionConfig) -> ir.Table:
    """The owner model's rows as built (a scrape never rebuilds it: the server reads)."""
    from mlcost.attribution.model import owner_rows

    return owner_rows(wh, config, current=False)


def _latest_month(wh: Warehouse, config: AttributionConfig) -> tuple[datetime, datetime] | None:
    latest = _model(wh, config).ChargePeriodStart.max().execute()
    if latest is None or latest != latest:  # empty: None (DuckDB) or NaT (Spark)
        return None
    start = datetime(latest.year, latest.month, 1)
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


def _costs(wh: Warehouse, settings: Settings) -> dict[str, Any]:
    """Cost rows by the labels, idle GPU cost by team, and the month they are from."""
    from mlcost.attribution import UNALLOCATED, learn_tag_rules
    from mlcost.spending import countable_rows

    config = settings.attribution
    window = _latest_month(wh, config)
    if window is None:
        return {"start": None, "costs": [], "idle": []}
    rules = learn_tag_rules(wh, config)
    a = _model(wh, config)
    a = a.filter(
        (a.ChargePeriodStart >= window[0])
        & (a.ChargePeriodStart < window[1])
        & (a.BillingCurrency == USD)
    )
    a = countable_rows(a, "EffectiveCost")
    tags = a.AllocatedTags
    a = a.mutate(
        team=a.x_Owner.fill_null(UNALLOCATED),
        project=rules.value(tags, "project").fill_null(rules.value(a.Tags, "project")),
        model=rules.value(tags, "model").fill_null(rules.value(a.Tags, "model")),
        env=rules.value(tags, "env").fill_null(rules.value(a.Tags, "env")),
        workload_type=a.x_WorkloadType,
    )
    costs = a.group_by(list(COST_LABELS)).aggregate(cost=a.EffectiveCost.sum())
    idle = a.filter(a.x_Bucket == "gpu_idle").group_by("team").aggregate(cost=a.EffectiveCost.sum())
    return {
        "start": window[0],
        "costs": costs.to_pyarrow().to_pylist(),
        "idle": idle.to_pyarrow().to_pylist(),
    }


def _budgets(wh: Warehouse, settings: Settings) -> list[tuple[str, float]]:
    from mlcost.budgets import statuses

    return [(st.budget.name, st.used) for st in statuses(wh, settings.budgets)]


def _savings(wh: Warehouse) -> dict[str, Decimal]:
    from mlcost.insights import load_findings

    out: dict[str, Decimal] = {}
    for f in load_findings(wh):
        # A monthly saving: money already spent once (runaway, anomaly) is not one.
        if f.monthly_saving.currency == USD and f.recurring:
            out[f.kind] = out.get(f.kind, Decimal(0)) + f.monthly_saving.expected
    return out


class WarehouseCollector(Collector):
    """Reads the warehouse on each scrape (through the app's cached reader)."""

    def __init__(self, reader: Reader, settings: Settings) -> None:
        self.reader = reader
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        s = self.settings
        data = self.reader.cached(("metrics", "costs"), lambda wh: _costs(wh, s))
        cost = GaugeMetricFamily(
            "mlcost_cost_usd",
            "EffectiveCost (USD) of the latest month in allocated_costs, by owner and tags.",
            labels=COST_LABELS,
        )
        for r in data["costs"]:
            labels = [str(r[k]) if r[k] is not None else "" for k in COST_LABELS]
            cost.add_metric(labels, float(r["cost"] or 0))
        yield cost
        if data["start"] is not None:
            start = data["start"].replace(tzinfo=UTC).timestamp()
            yield GaugeMetricFamily(
                "mlcost_cost_period_start_timestamp_seconds",
                "Start (UTC) of the month that mlcost_cost_usd covers.",
                value=start,
            )
        idle = GaugeMetricFamily(
            "mlcost_gpu_idle_cost_usd",
            "Cost (USD) of allocated GPU time with no utilization, latest month, by team.",
            labels=["team"],
        )
        for r in data["idle"]:
            idle.add_metric([str(r["team"])], float(r["cost"] or 0))
        yield idle
        used = GaugeMetricFamily(
            "mlcost_budget_utilization_ratio",
            "Spent / amount of each budget in its current period (1 = the whole budget).",
            labels=["budget"],
        )
        if s.budgets:
            for name, ratio in self.reader.cached(
                ("metrics", "budgets"), lambda wh: _budgets(wh, s)
            ):
                used.add_metric([name], ratio)
        yield used
        saving = GaugeMetricFamily(
            "mlcost_insights_open_saving_usd",
            "Expected monthly saving (USD) of the stored insights, by kind.",
            labels=["kind"],
        )
        for kind, amount in sorted(self.reader.cached(("metrics", "savings"), _savings).items()):
            saving.add_metric([kind], float(amount))
        yield saving


def _registry(request: Request) -> CollectorRegistry:
    state = request.app.state
    registry: CollectorRegistry | None = getattr(state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(WarehouseCollector(state.reader, state.settings))
        state.metrics_registry = registry
    return registry


@router.get(
    "/metrics",
    tags=["server"],
    summary="Prometheus metrics (read:all)",
    response_class=Response,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
    },
)
def metrics(request: Request, principal: Annotated[Principal, Depends(authorized)]) -> Response:
    require_read_all(principal)
    return Response(generate_latest(_registry(request)), media_type=CONTENT_TYPE_LATEST)
