"""Opening a warehouse from its URL: the scheme picks the engine."""

from __future__ import annotations

from mlcost.warehouse._base import Warehouse


def open_warehouse(
    url: str, *, read_only: bool = False, migrate_to: int | None = None
) -> Warehouse:
    """Open (creating and migrating if needed) the warehouse at ``url``.

    ``duckdb:///path.duckdb`` or a bare path: the embedded DuckDB file.
    ``spark://local[2]?warehouse_dir=PATH`` or ``spark://HOST:PORT?…``: a Spark session
    (see :func:`mlcost.warehouse.parse_spark_url`). ``migrate_to`` stops DuckDB migrations
    at a version; it exists for tests of upgrades.

    >>> with open_warehouse("duckdb://:memory:") as wh:
    ...     wh.engine
    'duckdb'
    """
    if url.startswith("spark://"):
        from mlcost.warehouse._spark import open_spark

        return open_spark(url, read_only=read_only)
    from mlcost.warehouse._duckdb import open_duckdb

    return open_duckdb(url, read_only=read_only, migrate_to=migrate_to)
