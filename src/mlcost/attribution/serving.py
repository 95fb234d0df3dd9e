"""What a token costs on our own GPUs: endpoint cost (idle share included) ÷ tokens served.

``served_tokens`` holds tokens per hour, endpoint, model and tenant (vLLM / TGI / Triton
counters, gateway logs). An endpoint is linked to its billed resource by the rules of
``resource_links`` (ResourceId, instance id, ResourceName, first DNS label of a host name).

- **Endpoint cost**: the ``allocated_costs`` rows of that resource in the window, every bucket
  (GPU used, GPU idle, unmeasured, capacity nobody claimed) except the shares of workloads
  that are not serving (training, fine-tuning, notebooks, data processing): the idle GPU
  money of a serving host is what its tokens cost too. Utilization beside it is the used
  GPU-hours over the measured ones.
- **Split rule**: an endpoint whose every row reports prefill and decode seconds splits its
  cost by engine time: input tokens pay for prefill seconds, output tokens for decode
  seconds, each model / tenant its own seconds. Otherwise by token counts: every token
  costs the same, input or output. The rule used is stated on every row (``split_rule``).

- **Each token once**: where a gateway's log splits an endpoint's model by tenant, its rows
  are counted instead of the engine's counters for that endpoint and model (both describe
  the same traffic; counting both would halve the price per token).

So per-tenant costs of one endpoint sum to the endpoint's cost, and
``usd_per_1m_input = input_cost / input_tokens × 1e6``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = [
    "BY_TIME",
    "BY_TOKENS",
    "NOT_SERVING",
    "endpoint_costs",
    "has_served_tokens",
    "token_costs",
]

BY_TIME = "by engine time: input = prefill seconds, output = decode seconds"
BY_TOKENS = "by token counts: on each endpoint one price per token, input or output"
# Workload types whose share of a serving host is not the endpoint's.
NOT_SERVING = ("training", "fine-tuning", "notebook-dev", "data processing")


def has_served_tokens(warehouse: Warehouse) -> bool:
    """Whether the warehouse has the ``served_tokens`` table (DuckDB, migration 13; Spark
    has none yet): readers show no token figures rather than fail without it."""
    return "served_tokens" in warehouse.tables()


def _tokens(warehouse: Warehouse, start: datetime | None, end: datetime | None) -> ir.Table:
    """The rows to count, each token once: engine counters (``tenant`` NULL) and a gateway's
    log (per tenant) describe the same traffic, so where an endpoint and model have tenant
    rows in the window those are counted and its engine rows are not (the gateway's split
    is the only one there is; the engine's own counts stand for every other model)."""
    t = warehouse.table("served_tokens")
    if start is not None:
        t = t.filter(t.ts >= start)
    if end is not None:
        t = t.filter(t.ts < end)
    key = t.endpoint.concat("|", t.model.fill_null(""))
    t = t.mutate(_key=key)
    split = t.filter(t.tenant.notnull()).select("_key").distinct()
    t = t.filter(t.tenant.notnull() | ~t._key.isin(split._key))
    return t.drop("_key")


def endpoint_costs(
    warehouse: Warehouse, start: datetime | None = None, end: datetime | None = None
) -> ir.Table:
    """Per endpoint of ``served_tokens``: its billed resource (NULL: none matched), cost and
    currency, hours billed (first charge to last), GPU-hours, utilization (used / measured
    GPU-hours) and the link rule."""
    from mlcost.attribution.gpu import UNCLAIMED_PREFIX
    from mlcost.attribution.units import allocated_rows
    from mlcost.warehouse import link_names

    t = _tokens(warehouse, start, end)
    names = t.select(name=t.endpoint).distinct()
    links = link_names(names, warehouse.table)
    a = allocated_rows(warehouse, start, end)
    # Only a workload's own share is left out: a resource no workload record claims has its
    # type from tags and names alone, and the served tokens on it say it serves whatever that
    # guess was.
    own = a.x_WorkloadId.startswith(UNCLAIMED_PREFIX).fill_null(False)
    a = a.filter(~a.x_WorkloadType.isin(NOT_SERVING) | a.x_WorkloadType.isnull() | own)
    measured = a.x_Bucket.isin(["gpu_used", "gpu_idle"])
    span = a.ChargePeriodEnd.max().delta(a.ChargePeriodStart.min(), unit="second")
    cost = a.group_by(rid=a.ResourceId, currency=a.BillingCurrency).aggregate(
        cost=a.EffectiveCost.sum(),
        hours=span.cast("float64") / 3600.0,
        gpu_hours=a.x_GpuHours.sum(),
        used_gpu_hours=a.x_GpuHours.sum(where=a.x_Bucket == "gpu_used"),
        measured_gpu_hours=a.x_GpuHours.sum(where=measured),
    )
    e = names.left_join(links, "name").select(
        endpoint=names.name, billed_resource_id=links.billed_resource_id, rule=links.rule
    )
    j = e.left_join(cost, e.billed_resource_id == cost.rid)
    return j.select(
        "endpoint",
        "billed_resource_id",
        "rule",
        "currency",
        "cost",
        "hours",
        "gpu_hours",
        "used_gpu_hours",
        "measured_gpu_hours",
        utilization=j.used_gpu_hours / j.measured_gpu_hours.nullif(0.0),
    )


def token_costs(
    warehouse: Warehouse,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    by: tuple[str, ...] = ("model",),
) -> ir.Table:
    """Self-hosted cost per 1M input and output tokens, grouped ``by`` any of ``endpoint``,
    ``model``, ``tenant``; with requests, cost per 1,000 predictions and utilization.

    Money columns are float in ``currency``; a group whose endpoint matched no billed
    resource has NULL cost (never zero). ``endpoint_hours``: the group's share of its
    endpoints' billed hours (what self-hosting it costs per hour is ``cost / endpoint_hours``).
    """
    import ibis

    t = _tokens(warehouse, start, end)
    i = t.input_tokens.fill_null(0).cast("float64")
    o = t.output_tokens.fill_null(0).cast("float64")
    timed = t.prefill_seconds.notnull() & t.decode_seconds.notnull()
    t = t.mutate(i=i, o=o, untimed=ibis.ifelse(timed, 0, 1))
    per_ep = t.group_by("endpoint").aggregate(
        untimed_rows=t.untimed.sum(),
        w_all=(t.i + t.o).sum(),
        s_all=(t.prefill_seconds + t.decode_seconds).sum(),
    )
    keys = ["endpoint", "model", "tenant"]
    g = t.group_by(keys).aggregate(
        input_tokens=t.i.sum(),
        output_tokens=t.o.sum(),
        requests=t.requests.sum(),
        si=t.prefill_seconds.sum(),
        so=t.decode_seconds.sum(),
    )
    ec = endpoint_costs(warehouse, start, end)
    g = g.inner_join(per_ep, "endpoint").inner_join(ec, "endpoint")
    by_time = g.untimed_rows == 0
    whole = ibis.ifelse(by_time, g.s_all, g.w_all).nullif(0.0)
    share_in = ibis.ifelse(by_time, g.si, g.input_tokens) / whole
    share_out = ibis.ifelse(by_time, g.so, g.output_tokens) / whole
    c = g.cost.cast("float64")
    g = g.mutate(
        input_cost=c * share_in,
        output_cost=c * share_out,
        used_h=g.used_gpu_hours * (share_in + share_out),
        measured_h=g.measured_gpu_hours * (share_in + share_out),
        endpoint_hours=g.hours * (share_in + share_out),
        split_rule=ibis.ifelse(by_time, BY_TIME, BY_TOKENS),
    )
    out = g.group_by([*by, "currency"]).aggregate(
        input_tokens=g.input_tokens.sum(),
        output_tokens=g.output_tokens.sum(),
        requests=g.requests.sum(),
        input_cost=g.input_cost.sum(),
        output_cost=g.output_cost.sum(),
        used_h=g.used_h.sum(),
        measured_h=g.measured_h.sum(),
        endpoint_hours=g.endpoint_hours.sum(),
        split_rule=g.split_rule.max(),
        rules=g.split_rule.nunique(),
        endpoints=g.endpoint.nunique(),
    )
    cost = out.input_cost + out.output_cost
    out = out.select(
        *by,
        "currency",
        "endpoints",
        "input_tokens",
        "output_tokens",
        "requests",
        "input_cost",
        "output_cost",
        "endpoint_hours",
        cost=cost,
        usd_per_1m_input=out.input_cost * 1e6 / out.input_tokens.nullif(0.0),
        usd_per_1m_output=out.output_cost * 1e6 / out.output_tokens.nullif(0.0),
        usd_per_1m_tokens=cost * 1e6 / (out.input_tokens + out.output_tokens).nullif(0.0),
        usd_per_1k_predictions=cost * 1e3 / out.requests.cast("float64").nullif(0.0),
        utilization=out.used_h / out.measured_h.nullif(0.0),
        split_rule=ibis.ifelse(out.rules > 1, f"mixed: {BY_TIME}; {BY_TOKENS}", out.split_rule),
    )
    return out.order_by(list(by)) if by else out
