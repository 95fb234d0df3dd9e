"""The warehouse: where loaded data lives, and the only package that writes it.

Reads are Ibis expressions over :meth:`Warehouse.table`; writes are :class:`Warehouse`
methods that run inside :meth:`Warehouse.transaction`. SQL strings stay in this package.
Engines: :class:`DuckDBWarehouse` (the embedded default) and :class:`SparkWarehouse`.
"""

from mlcost.warehouse._base import CSV_NULLS, Warehouse
from mlcost.warehouse._duckdb import DuckDBWarehouse, parse_url
from mlcost.warehouse._migrations import LATEST as SCHEMA_VERSION
from mlcost.warehouse._open import open_warehouse
from mlcost.warehouse._schema import (
    FOCUS_BY_NAME,
    FOCUS_COLUMNS,
    ROLLUP_DIMENSIONS,
    X_TYPES,
    FocusColumn,
)
from mlcost.warehouse._spark import SparkSettings, SparkWarehouse, parse_spark_url

__all__ = [
    "CSV_NULLS",
    "FOCUS_BY_NAME",
    "FOCUS_COLUMNS",
    "ROLLUP_DIMENSIONS",
    "SCHEMA_VERSION",
    "X_TYPES",
    "DuckDBWarehouse",
    "FocusColumn",
    "SparkSettings",
    "SparkWarehouse",
    "Warehouse",
    "open_warehouse",
    "parse_spark_url",
    "parse_url",
]
