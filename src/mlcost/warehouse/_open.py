"""Opening a warehouse from its target (or a URL, parsed once into one)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlcost.warehouse._base import Warehouse
from mlcost.warehouse._target import DuckDBTarget, WarehouseTarget, parse_target


def open_warehouse(
    target: WarehouseTarget | str,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    migrate_to: int | None = None,
) -> Warehouse:
    """Open (creating and migrating if needed) the warehouse at ``target``.

    ``target`` is a :class:`~mlcost.warehouse.DuckDBTarget` / :class:`SparkTarget`, or a URL
    string that :func:`~mlcost.warehouse.parse_target` reads: ``duckdb:///path.duckdb`` or a
    bare path (the embedded DuckDB file), ``spark://local[2]?warehouse_dir=PATH`` or
    ``spark://HOST:PORT?…`` (a Spark session). ``memory_limit`` caps DuckDB's memory (it
    spills beyond it; default: the target's, 1GB for a URL; Spark sizes itself from its own
    settings). ``migrate_to`` stops DuckDB migrations at a version; it exists for tests of
    upgrades.

    >>> with open_warehouse("duckdb://:memory:") as wh:
    ...     wh.engine
    'duckdb'
    """
    if isinstance(target, str):
        target = parse_target(target)
    if isinstance(target, DuckDBTarget):
        from mlcost.warehouse._duckdb import open_duckdb

        _check_path(target.path)
        if memory_limit is not None:
            target = replace(target, memory_limit=memory_limit)
        return open_duckdb(target, read_only=read_only, migrate_to=migrate_to)
    from mlcost.warehouse._spark import open_spark

    return open_spark(target, read_only=read_only)


def _check_path(path: str) -> None:
    """Refuse a warehouse path that cannot be a file: a folder, or one under a regular file
    (issue 22: these raised FileExistsError / NotADirectoryError tracebacks)."""
    from mlcost.errors import WarehouseError

    if path == ":memory:":
        return
    p = Path(path).expanduser()
    if p.is_dir():
        raise WarehouseError(
            f"Cannot open warehouse {path}: it is a folder. "
            f"Name a file, e.g. {p / 'mlcost.duckdb'}."
        )
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WarehouseError(
                    f"Cannot create warehouse {path}: {parent} is a file, not a folder. "
                    "Choose a path in a folder (--warehouse, MLCOST_WAREHOUSE or mlcost.toml)."
                )
            return
