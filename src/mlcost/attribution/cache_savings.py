"""What the prediction and semantic caches saved, from ``cache_stats`` (the tracker spool).

A cache reports what it did *since it was created* (:mod:`mlcost.cache.stats`), so each spool
line is a cumulative counter, like a Prometheus counter: a cache that reports every minute
writes growing numbers. Per cache and run, the lines in time order count what grew since
the previous one; a line lower than the one before means the process started over (a reset),
and counts from zero. Summing the lines would count the first minute sixty times.

The model of a cache is the ``model`` tag of the run it reported under (``run_id`` →
``workloads``), else NULL. Money saved is per currency; NULL where the cache was given no
cost (an unknown saving is not a zero saving).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = ["cache_savings"]

_COUNTERS = ("hits", "misses", "saved_seconds", "saved")


def cache_savings(
    warehouse: Warehouse,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    by: tuple[str, ...] = ("cache", "model"),
) -> ir.Table:
    """Per ``by`` (``cache``, ``model``) and currency: hits, misses, hit rate, seconds and
    money saved, and how many reports they come from; most money saved first."""
    import ibis

    s = warehouse.table("cache_stats")
    order = ibis.window(
        group_by=[s["cache"], s.run_id], order_by=[s.time, s.hits, s.misses, s.ingest_id]
    )
    grown = {}
    for c in _COUNTERS:
        before = s[c].lag().over(order)
        # First line, or a reset (the counter went down): the line's own count.
        grown[c] = ibis.ifelse(before.isnull() | (s[c] < before), s[c], s[c] - before)
    d = s.mutate(**{f"d_{c}": v for c, v in grown.items()})
    if start is not None:
        d = d.filter(d.time >= start)
    if end is not None:
        d = d.filter(d.time < end)
    w = warehouse.table("workloads")
    runs = (
        w.filter(w.run_id.notnull()).group_by(rid=w.run_id).aggregate(model=w.tags["model"].max())
    )
    d = d.left_join(runs, d.run_id == runs.rid)
    g = d.group_by([*by, "currency"]).aggregate(
        hits=d.d_hits.sum(),
        misses=d.d_misses.sum(),
        saved_seconds=d.d_saved_seconds.sum(),
        saved=d.d_saved.sum(),
        reports=d.count(),
    )
    lookups = (g.hits + g.misses).cast("float64")
    g = g.mutate(hit_rate=g.hits.cast("float64") / lookups.nullif(0.0))
    return g.order_by([g.saved.desc(), *by])
