"""``allocated_costs`` written back as FOCUS 1.3, with the split-allocation columns.

Columns: every Cost and Usage column FOCUS 1.3 defines (those introduced in 1.4 are left
out), ``ProviderName`` and ``PublisherName`` (deprecated in 1.3, still present; the value the
source wrote, else ServiceProviderName), then our ``x_`` columns. Timestamps are ISO 8601 UTC
(``2026-05-01T00:00:00Z``); ``Tags``, ``AllocatedTags`` and the JSON columns are JSON text.
A path ending in ``.parquet`` is written as Parquet, anything else as CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlcost.warehouse import FOCUS_COLUMNS

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = ["export_focus", "focus_columns"]

_VERSIONS = ("1.3",)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def focus_columns(version: str = "1.3") -> list[str]:
    """The FOCUS column names of ``version``, in the warehouse's order."""
    v = _version(version)
    return [c.name for c in FOCUS_COLUMNS if c.since <= v]


def focus_table(warehouse: Warehouse, version: str = "1.3", month: str | None = None) -> ir.Table:
    """The allocated rows as FOCUS ``version`` text/number columns (an Ibis table)."""
    import ibis

    from mlcost.errors import NotFound

    if version not in _VERSIONS:
        raise NotFound(f"FOCUS {version} export is not supported. Choose {', '.join(_VERSIONS)}.")
    a = warehouse.table("allocated_costs")
    if month is not None:
        from mlcost.attribution.allocate import month_window

        start, end = month_window(month)
        a = a.filter((a.ChargePeriodStart >= start) & (a.ChargePeriodStart < end))
    kinds = {c.name: c.kind for c in FOCUS_COLUMNS}
    out: dict[str, ir.Value] = {}
    for name in focus_columns(version):
        col = a[name]
        kind = kinds[name]
        if kind == "timestamp":
            out[name] = col.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind in ("tags", "json"):
            out[name] = col.cast("json").cast("string")
        else:
            out[name] = col
    out["ProviderName"] = ibis.coalesce(a.x_ProviderName, a.ServiceProviderName)
    out["PublisherName"] = ibis.coalesce(a.x_PublisherName, a.ServiceProviderName)
    for name in a.columns:
        if name.startswith("x_") and name not in ("x_ProviderName", "x_PublisherName"):
            col = a[name]
            out[name] = col.strftime("%Y-%m-%dT%H:%M:%SZ") if col.type().is_timestamp() else col
    return a.select(**out)


def export_focus(
    warehouse: Warehouse, out: str | Path, *, version: str = "1.3", month: str | None = None
) -> int:
    """Write the allocated costs to ``out`` as FOCUS ``version``; return the rows written."""
    table = focus_table(warehouse, version, month)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        warehouse.ibis.to_parquet(table, path)
    else:
        warehouse.ibis.to_csv(table, path)
    return int(table.count().to_pyarrow().as_py())
