"""The warehouse: where loaded data lives, and the only package that writes it.

Reads are Ibis expressions over :meth:`Warehouse.table`; writes are :class:`Warehouse`
methods that run inside :meth:`Warehouse.transaction`. SQL strings stay in this package.
"""

from mlcost.warehouse._duckdb import CSV_NULLS, Warehouse, open_warehouse, parse_url
from mlcost.warehouse._migrations import LATEST as SCHEMA_VERSION
from mlcost.warehouse._schema import FOCUS_BY_NAME, FOCUS_COLUMNS, X_TYPES, FocusColumn

__all__ = [
    "CSV_NULLS",
    "FOCUS_BY_NAME",
    "FOCUS_COLUMNS",
    "SCHEMA_VERSION",
    "X_TYPES",
    "FocusColumn",
    "Warehouse",
    "open_warehouse",
    "parse_url",
]
