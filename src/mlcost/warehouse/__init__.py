"""The warehouse: where loaded data lives, and the only package that writes it.

Reads are Ibis expressions over :meth:`Warehouse.table`; writes are :class:`Warehouse`
methods that run inside :meth:`Warehouse.transaction`. SQL strings stay in this package.
Engines: :class:`DuckDBWarehouse` (the embedded default) and :class:`SparkWarehouse`; what
each offers beyond reads and loads is its ``capabilities``, which a feature's :class:`Store`
checks when it starts. A warehouse's place is parsed once into a :class:`DuckDBTarget` or
:class:`SparkTarget` (:func:`parse_target`, :func:`target_of`).
"""

from mlcost.warehouse._base import CSV_NULLS, Capability, Warehouse
from mlcost.warehouse._duckdb import DuckDBWarehouse
from mlcost.warehouse._duckdb_lock import writer_waiting
from mlcost.warehouse._links import link_names
from mlcost.warehouse._migrations import LATEST as SCHEMA_VERSION
from mlcost.warehouse._open import open_warehouse
from mlcost.warehouse._rows import fetch_rows, iter_rows
from mlcost.warehouse._schema import (
    FOCUS_BY_NAME,
    FOCUS_COLUMNS,
    ROLLUP_DIMENSIONS,
    X_TYPES,
    FocusColumn,
)
from mlcost.warehouse._spark import SparkSettings, SparkWarehouse
from mlcost.warehouse._store import Store
from mlcost.warehouse._target import (
    DuckDBTarget,
    SparkTarget,
    WarehouseTarget,
    parse_spark_url,
    parse_target,
    parse_url,
    target_of,
)

__all__ = [
    "CSV_NULLS",
    "FOCUS_BY_NAME",
    "FOCUS_COLUMNS",
    "ROLLUP_DIMENSIONS",
    "SCHEMA_VERSION",
    "X_TYPES",
    "Capability",
    "DuckDBTarget",
    "DuckDBWarehouse",
    "FocusColumn",
    "SparkSettings",
    "SparkTarget",
    "SparkWarehouse",
    "Store",
    "Warehouse",
    "WarehouseTarget",
    "fetch_rows",
    "iter_rows",
    "link_names",
    "open_warehouse",
    "parse_spark_url",
    "parse_target",
    "parse_url",
    "target_of",
    "writer_waiting",
]
