"""Opening a warehouse from its URL: the scheme picks the engine."""

from __future__ import annotations

from mlcost.warehouse._base import Warehouse


def open_warehouse(
    url: str,
    *,
    read_only: bool = False,
    memory_limit: str = "1GB",
    migrate_to: int | None = None,
) -> Warehouse:
    """Open (creating and migrating if needed) the warehouse at ``url``.

    ``duckdb:///path.duckdb`` or a bare path: the embedded DuckDB file.
    ``spark://local[2]?warehouse_dir=PATH`` or ``spark://HOST:PORT?…``: a Spark session
    (see :func:`mlcost.warehouse.parse_spark_url`). ``memory_limit`` caps DuckDB's memory
    (it spills beyond it; Spark sizes itself from its own settings). ``migrate_to`` stops
    DuckDB migrations at a version; it exists for tests of upgrades.

    >>> with open_warehouse("duckdb://:memory:") as wh:
    ...     wh.engine
    'duckdb'
    """
    if url.startswith("spark://"):
        from mlcost.warehouse._spark import open_spark

        return open_spark(url, read_only=read_only)
    from mlcost.warehouse._duckdb import open_duckdb

    return open_duckdb(url, read_only=read_only, memory_limit=memory_limit, migrate_to=migrate_to)
