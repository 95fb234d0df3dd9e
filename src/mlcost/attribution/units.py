"""Unit costs from the allocation: per run and experiment, per model across its lifecycle,
per 1,000 predictions and per 1M tokens, and per unit of improvement.

All read ``allocated_costs`` (build it with :func:`mlcost.attribution.allocate` or
``mlcost showback``) and return Ibis tables; money is EffectiveCost in ``currency``.

Cost per unit of improvement: runs of one experiment in start order; a run's improvement is
how much its ``metric`` beats the best of the experiment's earlier runs (``lower_is_better``
for losses), and ``improvement_per_dollar = improvement / cost``. The first run of an
experiment has no earlier best: NULL, not zero. A run that does not improve gets a negative
or zero improvement: the money bought nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = [
    "PHASES",
    "allocated_rows",
    "cost_per_endpoint",
    "cost_per_experiment",
    "cost_per_run",
    "improvement_per_dollar",
    "model_lifecycle",
]

# Workload type -> model lifecycle phase; batch inference whose workload id names an
# evaluation ("eval") is the evaluation phase, other batch inference is serving.
_PHASES = {
    "data processing": "data_prep",
    "training": "training",
    "fine-tuning": "fine-tuning",
    "inference": "serving",
    "batch inference": "serving",
}
PHASES = ("data_prep", "training", "fine-tuning", "evaluation", "serving")


def allocated_rows(
    warehouse: Warehouse, start: datetime | None = None, end: datetime | None = None
) -> ir.Table:
    """The owner model's rows (``allocated_costs``) charged in [start, end), each commitment
    counted once: every unit cost starts here, none recomputes ownership."""
    from mlcost.spending import countable_rows

    a = warehouse.table("allocated_costs")
    if start is not None:
        a = a.filter(a.ChargePeriodStart >= start)
    if end is not None:
        a = a.filter(a.ChargePeriodStart < end)
    return countable_rows(a, "EffectiveCost")


def _per_workload(warehouse: Warehouse, start: datetime | None, end: datetime | None) -> ir.Table:
    a = allocated_rows(warehouse, start, end)
    return a.group_by(wid=a.x_WorkloadId, alloc_currency=a.BillingCurrency).aggregate(
        alloc_cost=a.EffectiveCost.sum(),
        alloc_gpu_hours=a.x_GpuHours.sum(),
        alloc_owner=a.x_Owner.max(),
    )


def cost_per_run(
    warehouse: Warehouse, start: datetime | None = None, end: datetime | None = None
) -> ir.Table:
    """experiment, run_id, workload_id, name, cost, gpu_hours, currency, start, owner (runs
    only)."""
    w = warehouse.table("workloads")
    runs = w.filter(w.run_id.notnull() | w.experiment.notnull())
    c = _per_workload(warehouse, start, end)
    j = runs.inner_join(c, runs.workload_id == c.wid)
    return j.select(
        experiment=j.experiment,
        run_id=j.run_id,
        workload_id=j.workload_id,
        name=j.name,
        start=j.start,
        cost=j.alloc_cost,
        gpu_hours=j.alloc_gpu_hours,
        currency=j.alloc_currency,
        metrics=j.metrics,
        owner=j.alloc_owner,
    )


def cost_per_experiment(
    warehouse: Warehouse, start: datetime | None = None, end: datetime | None = None
) -> ir.Table:
    """experiment, runs, cost, gpu_hours, cost_per_run, currency; most expensive first."""
    r = cost_per_run(warehouse, start, end)
    g = r.group_by(["experiment", "currency"]).aggregate(
        runs=r.workload_id.nunique(), cost=r.cost.sum(), gpu_hours=r.gpu_hours.sum()
    )
    g = g.mutate(cost_per_run=g.cost / g.runs)
    return g.order_by(g.cost.desc())


def model_lifecycle(
    warehouse: Warehouse, start: datetime | None = None, end: datetime | None = None
) -> ir.Table:
    """Per model (its ``model`` tag): GPU-hours and cost of each lifecycle phase (data
    preparation, training, fine-tuning, evaluation, serving), and the total."""
    import ibis

    a = allocated_rows(warehouse, start, end)
    model = ibis.coalesce(a.AllocatedTags.get("model"), a.Tags.get("model"))
    phase = a.x_WorkloadType.substitute(_PHASES, else_=ibis.null().cast("string"))
    evaluation = (a.x_WorkloadType == "batch inference") & a.x_WorkloadId.lower().contains("eval")
    phase = ibis.ifelse(evaluation.fill_null(False), "evaluation", phase)
    a = a.mutate(model=model, phase=phase).filter(model.notnull())
    aggs = {}
    for p in PHASES:
        name = p.replace("-", "_")
        aggs[f"{name}_gpu_hours"] = a.x_GpuHours.sum(where=a.phase == p)
        aggs[f"{name}_cost"] = a.EffectiveCost.sum(where=a.phase == p)
    g = a.group_by(["model", a.BillingCurrency.name("currency")]).aggregate(
        **aggs, gpu_hours=a.x_GpuHours.sum(), cost=a.EffectiveCost.sum()
    )
    return g.order_by(g.cost.desc())


def cost_per_endpoint(
    warehouse: Warehouse, start: datetime | None = None, end: datetime | None = None
) -> ir.Table:
    """Endpoints that report requests or tokens: cost per 1,000 predictions and per 1M tokens."""
    w = warehouse.table("workloads")
    served = w.filter(w.requests.notnull() | w.tokens.notnull())
    c = _per_workload(warehouse, start, end)
    j = served.inner_join(c, served.workload_id == c.wid)
    cost = j.alloc_cost.cast("float64")
    return j.select(
        workload_id=j.workload_id,
        name=j.name,
        model=j.tags.get("model"),
        requests=j.requests,
        tokens=j.tokens,
        cost=j.alloc_cost,
        currency=j.alloc_currency,
        per_1k_predictions=cost * 1000.0 / j.requests.nullif(0.0),
        per_1m_tokens=cost * 1_000_000.0 / j.tokens.nullif(0.0),
    )


def improvement_per_dollar(
    warehouse: Warehouse,
    metric: str,
    *,
    lower_is_better: bool = True,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ir.Table:
    """Per run: its ``metric``, the experiment's previous best, improvement and per dollar."""
    import ibis

    r = cost_per_run(warehouse, start, end)
    r = r.mutate(value=r.metrics.get(metric)).filter(ibis._.value.notnull())
    upto = ibis.window(
        group_by="experiment", order_by=["start", "run_id"], preceding=None, following=0
    )
    best = r.value.min().over(upto) if lower_is_better else r.value.max().over(upto)
    r = r.mutate(best=best)
    order = ibis.window(group_by="experiment", order_by=["start", "run_id"])
    r = r.mutate(previous_best=r.best.lag().over(order))
    gain = r.previous_best - r.value if lower_is_better else r.value - r.previous_best
    r = r.mutate(improvement=gain)
    return r.select(
        "experiment",
        "run_id",
        "name",
        "start",
        "value",
        "previous_best",
        "improvement",
        "cost",
        "currency",
        improvement_per_dollar=r.improvement / r.cost.cast("float64").nullif(0.0),
    ).order_by(["experiment", "start"])
