"""Query results as Python rows, the same on every engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["fetch_rows", "iter_rows"]


def fetch_rows(expr: ir.Table, order_by: Sequence[str | ir.Value] = ()) -> list[dict[str, Any]]:
    """The rows of ``expr`` as dicts, in the order ``order_by`` gives (ties and an empty
    ``order_by``: the engine's order), a map column as a dict (NULL stays None), on every engine.

    Ibis's PySpark backend hands results over through pandas, where a map becomes a Python
    dict that Arrow then reads as a struct and cannot cast back (ibis 12); so a map travels
    as its keys and its values, two arrays both engines return as lists, zipped here.
    """
    return list(iter_rows(expr, order_by))


def iter_rows(
    expr: ir.Table, order_by: Sequence[str | ir.Value] = (), batch: int = 65_536
) -> Iterator[dict[str, Any]]:
    """:func:`fetch_rows` a batch at a time: the Arrow result is compact, its rows as Python
    dicts are not (a 5,000-GPU month's GPU-hours: 3.7 M rows, GiBs as one list of dicts)."""
    maps = [name for name, dtype in expr.schema().items() if dtype.is_map()]
    if maps:
        parts = {}
        for name in maps:
            parts[f"__keys_{name}"] = expr[name].keys()
            parts[f"__values_{name}"] = expr[name].values()
        expr = expr.mutate(**parts).drop(*maps)
    if order_by:
        expr = expr.order_by(list(order_by))
    for b in expr.to_pyarrow().to_batches(max_chunksize=batch):
        for r in b.to_pylist():
            for name in maps:
                keys, values = r.pop(f"__keys_{name}"), r.pop(f"__values_{name}")
                r[name] = None if keys is None else dict(zip(keys, values, strict=True))
            yield r
