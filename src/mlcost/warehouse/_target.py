"""Where a warehouse lives, parsed once: :class:`DuckDBTarget` or :class:`SparkTarget`.

A warehouse URL (``--warehouse``, ``MLCOST_WAREHOUSE``, ``mlcost.toml``, a ``[spark]`` table
or the XDG default) is parsed here, once, into a frozen target; the CLI, ``watch``,
``serve`` and the server pass that object on and nothing outside ``warehouse/`` looks at a
``duckdb://`` or ``spark://`` string. :func:`open_warehouse` takes either.

    >>> parse_target("duckdb:///srv/w.duckdb")
    DuckDBTarget(path='/srv/w.duckdb', memory_limit='1GB')
    >>> parse_target("spark://local[2]?warehouse_dir=/srv/wh").master
    'local[2]'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qsl, urlencode

from mlcost.errors import UnsupportedWarehouse

if TYPE_CHECKING:
    from mlcost.config import Settings

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DuckDBTarget",
    "SparkTarget",
    "WarehouseTarget",
    "parse_spark_url",
    "parse_target",
    "parse_url",
    "target_of",
]

# DuckDB's own default is 80% of RAM; mlcost caps it (config's default says the same).
DEFAULT_MEMORY_LIMIT = "1GB"
FORMATS = ("parquet", "delta", "iceberg")


@dataclass(frozen=True)
class DuckDBTarget:
    """The embedded engine: one DuckDB file (or ``:memory:``), with a memory cap."""

    path: str  # a file path, or ":memory:"
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    engine: ClassVar[str] = "duckdb"

    @property
    def url(self) -> str:
        return f"duckdb://{self.path}"

    def beside(self, name: str) -> Path | None:
        """A file named for this warehouse next to it (``w.duckdb.<name>``); None in memory."""
        return None if self.path == ":memory:" else Path(f"{self.path}.{name}")


@dataclass(frozen=True)
class SparkTarget:
    """Where a Spark warehouse lives: the master, the folder, the database, the format."""

    master: str  # "local[2]", "local[*]" or "spark://host:7077"
    warehouse_dir: str | None = None
    database: str = "mlcost"
    table_format: str = "parquet"
    conf: Mapping[str, str] = field(default_factory=dict)
    engine: ClassVar[str] = "spark"

    @property
    def local(self) -> bool:
        return self.master == "local" or self.master.startswith("local[")

    @property
    def url(self) -> str:
        params = {"warehouse_dir": self.warehouse_dir} if self.warehouse_dir else {}
        if self.database != "mlcost":
            params["database"] = self.database
        if self.table_format != "parquet":
            params["format"] = self.table_format
        params.update(self.conf)
        master = self.master.removeprefix("spark://")
        return f"spark://{master}" + (f"?{urlencode(params, safe='/')}" if params else "")

    def beside(self, name: str) -> Path | None:
        """A file named for this database in the warehouse folder; None without a folder."""
        if self.warehouse_dir is None:
            return None
        return Path(self.warehouse_dir) / f"{self.database}.{name}"


WarehouseTarget = DuckDBTarget | SparkTarget


def parse_url(url: str) -> str:
    """The DuckDB database path of a warehouse URL (or ``:memory:``).

    ``duckdb:///abs/file.duckdb`` and ``duckdb://rel/file.duckdb`` name files; a bare path
    is a DuckDB file too.
    """
    if "://" not in url:
        return str(Path(url).expanduser())
    scheme, _, rest = url.partition("://")
    if scheme != "duckdb":
        raise UnsupportedWarehouse(
            f"Warehouse URL {url!r} uses {scheme!r}, which this version of mlcost cannot open. "
            "Use duckdb:///path/to/file.duckdb (the embedded default) or "
            "spark://local[2]?warehouse_dir=/path (Spark; pip install 'mlcost[spark]')."
        )
    if rest in ("", ":memory:"):
        return ":memory:"
    return str(Path(rest).expanduser())


def parse_spark_url(url: str) -> SparkTarget:
    """The target of a ``spark://`` warehouse URL.

    >>> s = parse_spark_url("spark://local[2]?warehouse_dir=/data/wh&database=finops")
    >>> s.master, s.warehouse_dir, s.database, s.table_format
    ('local[2]', '/data/wh', 'finops', 'parquet')
    >>> parse_spark_url("spark://spark-master:7077").master
    'spark://spark-master:7077'
    """
    if not url.startswith("spark://"):
        raise UnsupportedWarehouse(f"{url!r} is not a spark:// URL")
    target, _, query = url[len("spark://") :].partition("?")
    if not target:
        raise UnsupportedWarehouse(
            f"Warehouse URL {url!r} names no Spark master. Write spark://local[2]?"
            "warehouse_dir=/path for a local session or spark://HOST:PORT for a cluster."
        )
    master = target if target == "local" or target.startswith("local[") else f"spark://{target}"
    params = dict(parse_qsl(query, keep_blank_values=True))
    conf = {k: v for k, v in params.items() if k.startswith("spark.")}
    unknown = sorted(set(params) - set(conf) - {"warehouse_dir", "database", "format"})
    if unknown:
        raise UnsupportedWarehouse(
            f"Warehouse URL {url!r}: unknown parameter(s) {', '.join(unknown)}. Known: "
            "warehouse_dir, database, format, and spark.* session settings."
        )
    fmt = params.get("format", "parquet").lower()
    if fmt not in FORMATS:
        raise UnsupportedWarehouse(
            f"Warehouse URL {url!r}: format {fmt!r} is not one of {', '.join(FORMATS)}."
        )
    database = params.get("database", "mlcost")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", database):
        raise UnsupportedWarehouse(f"Warehouse URL {url!r}: {database!r} is not a database name.")
    folder = params.get("warehouse_dir")
    return SparkTarget(
        master=master,
        warehouse_dir=str(Path(folder).expanduser().resolve()) if folder else None,
        database=database,
        table_format=fmt,
        conf=conf,
    )


def parse_target(url: str, *, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> WarehouseTarget:
    """The target a warehouse URL names: the scheme picks the engine.

    ``duckdb:///path.duckdb``, ``duckdb://:memory:`` or a bare path: a DuckDB file, capped
    at ``memory_limit``. ``spark://local[2]?warehouse_dir=PATH`` or ``spark://HOST:PORT?…``:
    a Spark session (see :func:`parse_spark_url`; Spark sizes itself from its own settings).
    """
    if url.startswith("spark://"):
        return parse_spark_url(url)
    return DuckDBTarget(parse_url(url), memory_limit)


def target_of(settings: Settings) -> WarehouseTarget:
    """The target of the settings' ``warehouse`` (URL, ``[spark]`` table or the default)."""
    return parse_target(settings.warehouse, memory_limit=settings.memory_limit)
