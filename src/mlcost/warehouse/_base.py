"""What every warehouse engine offers: Ibis for reads, a few audited methods for writes.

The seam between mlcost and an engine. Everything above ``warehouse/`` (sources, spend,
attribution, insights) reads through :meth:`Warehouse.table` as Ibis expressions and writes
through the methods here; engines differ only below it:

- :class:`~mlcost.warehouse._duckdb.DuckDBWarehouse`: one file, one transaction per ingest.
- :class:`~mlcost.warehouse._spark.SparkWarehouse`: tables in a Spark catalog; an ingest is
  staged, then written by one dynamic partition overwrite, and recorded in ``ingests`` last.

The methods written here in Ibis run unchanged on both. What an engine can do beyond the
core (reads, loads) is declared in :attr:`Warehouse.capabilities`; a feature that keeps its own
table (alerts, findings, the audit, tokens) is a :class:`~mlcost.warehouse.Store` over the
general operations, and checks those capabilities when it starts, not in the middle of a run.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlcost.errors import WarehouseError

if TYPE_CHECKING:
    from datetime import date, datetime

    import ibis.expr.types as ir

    from mlcost.warehouse._functions import EngineFunctions

# CSV spellings of "no value": FOCUS samples write NULL, null or leave the field empty.
CSV_NULLS = ("", "NULL", "null")


class Capability(StrEnum):
    """General operations beyond reads and loads, which an engine may not offer (yet)."""

    ROW_WRITES = "row writes"  # insert a few rows given as values (insert_rows)
    KEYED_UPSERT = "keyed upsert"  # insert, or skip / update the row with the same key (upsert)
    UPDATE_WHERE = "update where"  # update the rows whose columns equal values (update_where)


class Warehouse(ABC):
    """An open warehouse. ``engine`` names it; ``ibis`` is its Ibis backend.

    >>> from mlcost import open_warehouse
    >>> with open_warehouse("duckdb://:memory:") as wh:
    ...     wh.engine, "cost_line_items" in wh.tables()
    ('duckdb', True)
    """

    engine: ClassVar[str]
    # What this engine offers beyond reads and loads (docs/engines.md says what runs where).
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    ibis: Any  # the Ibis backend; everything that reads goes through it
    url: str  # the target's URL, for messages
    read_only: bool
    _in_transaction: bool = False

    # -- reads -------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        return self.ibis.table(name)

    def columns(self, table: str) -> list[str]:
        return list(self.table(table).columns)

    @property
    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables in the warehouse."""

    @abstractmethod
    def read_files(self, paths: Sequence[Path], fmt: str) -> ir.Table:
        """An Ibis table over CSV (every column as text) or Parquet files, streamed."""

    @property
    @abstractmethod
    def functions(self) -> EngineFunctions:
        """The engine's own functions that Ibis has no name for (fail, JSON → map, ...)."""

    @property
    @abstractmethod
    def errors(self) -> tuple[type[Exception], ...]:
        """Exception types the engine raises for a failed query (bad input, a failed check)."""

    def find_ingest(self, content_hash: str) -> int | None:
        t = self.table("ingests")
        found = t.filter(t.content_hash == content_hash).ingest_id.min().execute()
        return None if found is None or found != found else int(found)  # NaN: no rows

    def next_ingest_id(self) -> int:
        latest = self.table("ingests").ingest_id.max().execute()
        return 1 if latest is None or latest != latest else int(latest) + 1

    def coverage(self, ingest_id: int) -> tuple[int, list[str], list[Any]]:
        """Rows, billing accounts and billing periods written by one ingest."""
        t = self.table("cost_line_items")
        mine = t.filter(t.x_IngestId == ingest_id)
        keys = mine.select("BillingAccountId", "BillingPeriodStart").distinct().to_pyarrow()
        accounts = sorted({a for a in keys["BillingAccountId"].to_pylist() if a is not None})
        periods = sorted({p for p in keys["BillingPeriodStart"].to_pylist() if p is not None})
        return int(mine.count().execute()), accounts, periods

    # -- writes ------------------------------------------------------------------------
    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside take effect together, or (as far as the engine allows) not at all."""

    def _require_writable(self) -> None:
        if self.read_only:
            raise WarehouseError(f"{self.url} was opened read-only; open it without read_only.")

    def _require_transaction(self) -> None:
        if not self._in_transaction:
            raise WarehouseError("writes must run inside Warehouse.transaction()")

    def add_text_columns(self, table: str, names: Sequence[str]) -> None:
        """Add nullable text columns (our ``x_`` extensions) that the table lacks."""
        self._require_transaction()
        existing = set(self.columns(table))
        for name in names:
            if name not in existing:
                if not re.fullmatch(r"x_[A-Za-z0-9_]{1,60}", name):
                    raise WarehouseError(f"refusing to add column {name!r}: not an x_ name")
                self._add_text_column(table, name)

    @abstractmethod
    def _add_text_column(self, table: str, name: str) -> None: ...

    @abstractmethod
    def insert(
        self, table: str, expr: ir.Table, *, progress: Callable[[float], None] | None = None
    ) -> None:
        """Write the rows of ``expr`` (columns named as the table's) into ``table``."""

    def rollup(self) -> ir.Table | None:
        """The daily rollup of cost_line_items (``cost_daily``) where this engine keeps one.

        ``spend`` answers from it when it can; None means every query reads the line items.
        """
        return None

    def daily_sums(
        self,
        keys: Sequence[tuple[str, str]],
        metric: str,
        *,
        first_day: date | None,
        end_day: date | None,
        ingest_id: int | None,
        purchases: bool,
    ) -> list[dict[str, Any]] | None:
        """``metric`` summed from the daily rollup by ``keys`` ((column, name) pairs; a
        column may be a tag dimension, ``tag:<key>|<key>…``, which only an engine that rolls
        up by tags answers) and BillingCurrency, largest first then by the names; days in
        [first_day, end_day); commitment purchase rows only with ``purchases``. One query
        the engine compiles itself, for callers that ask many distinct questions (the
        server). None where the engine keeps no current rollup (by those tags), or answers
        only through Ibis (then use ``spend``)."""
        return None

    def prepared(self, expr: ir.Table, stand_ins: Mapping[str, datetime]) -> str | None:
        """``expr`` compiled into SQL that takes parameters, to run many times: the literal of
        each stand-in timestamp the expression was built with becomes the parameter of that
        name. None where the engine cannot, or where a stand-in's literal does not occur
        exactly once (then execute ``expr`` itself)."""
        return None

    def run_prepared(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows of SQL from :meth:`prepared`, with its parameters bound."""
        raise NotImplementedError(f"{self.engine} prepares no statements")

    def with_row_ids(self, table: str, column: str) -> ir.Table | None:
        """``table`` with ``column``: an id of each row that stays put while nothing writes
        to it, so a narrow working set can be joined back to its rows; None where the engine
        has no such id (then the working set carries every column itself)."""
        return None

    @abstractmethod
    def temporary(self, expr: ir.Table) -> AbstractContextManager[ir.Table]:
        """``expr`` computed once into a session-private table (attribution's working set)."""

    @abstractmethod
    def replace_window(
        self, table: str, expr: ir.Table, *, column: str, start: Any, end: Any
    ) -> int:
        """Replace the rows of ``table`` whose ``column`` is in ``[start, end)`` by ``expr``."""

    @abstractmethod
    def insert_arrow(self, table: str, data: Any) -> int:
        """Write the rows of a pyarrow Table (columns named as the table's); return the count."""

    @abstractmethod
    def delete_replaced(self, table: str, key: str, ingest_id: int) -> int:
        """Delete rows of ``table`` whose ``key`` the ingest ``ingest_id`` wrote again."""

    def count_rows(self, table: str, ingest_id: int, column: str = "ingest_id") -> int:
        """Rows of ``table`` written by one ingest."""
        t = self.table(table)
        return int(t.filter(t[column] == ingest_id).count().execute())

    @abstractmethod
    def read_csv_files(
        self, paths: Sequence[Path], header: Sequence[str], *, filename: bool = False
    ) -> ir.Table:
        """Comma-separated files that share ``header`` as one streamed table of text columns."""

    @abstractmethod
    def read_lines(self, paths: Sequence[Path]) -> ir.Table:
        """Text files (plain or gzipped) as one streamed table of their lines: ``filename``
        (as the engine spells it) and ``line`` (no quoting, no fields; a blank line is NULL or
        blank). For logs whose lines a parser of its own must judge before splitting them."""

    def read_fields(self, paths: Sequence[Path], count: int) -> ir.Table:
        """Text files of comma-separated fields (no quoting, no header skipped) as one streamed
        table: ``filename`` and ``f0`` … ``f{count-1}`` as text. A line with fewer fields has
        NULL for the missing ones, a blank line is absent or NULL past ``f0``, and a line with
        more fields fails the query. This default splits :meth:`read_lines`; an engine with a
        CSV reader of its own overrides it (DuckDB splits while it reads, several times faster).
        """
        import ibis
        import ibis.expr.datatypes as dt

        t = self.read_lines(paths)
        cells = t.line.split(",")
        n = cells.length()
        over = self.functions.fail("mlcost-check:fields", dt.string)
        return t.select(
            "filename",
            **{
                f"f{i}": ibis.ifelse(
                    n > count, over, ibis.ifelse(n > i, cells[i], ibis.null(dt.string))
                )
                for i in range(count)
            },
        )

    # -- capabilities: operations an engine may lack ----------------------------------------
    def why_not(self, needs: Iterable[Capability], feature: str) -> str | None:
        """None when this engine offers every capability in ``needs``; else one line saying
        which it lacks, for a feature to report (or raise) before it starts."""
        missing = sorted(set(needs) - self.capabilities)
        if not missing:
            return None
        return (
            f"{feature} needs {', '.join(missing)}, which the {self.engine} warehouse does not "
            "offer yet (docs/engines.md says what runs where)"
        )

    def require(self, needs: Iterable[Capability], feature: str) -> None:
        """Raise :class:`WarehouseError` before ``feature`` starts if the engine lacks a need."""
        reason = self.why_not(needs, feature)
        if reason is not None:
            raise WarehouseError(f"{reason[0].upper()}{reason[1:]}; use a DuckDB warehouse for it.")

    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write rows given as values (column -> value); return the count. ``ROW_WRITES``."""
        raise self._lacks(Capability.ROW_WRITES)

    def upsert(
        self,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        key: Sequence[str],
        update: Sequence[str] = (),
    ) -> int:
        """Insert rows; one whose ``key`` exists has its ``update`` columns replaced (none:
        it is kept as it is). Returns the rows written. ``KEYED_UPSERT``."""
        raise self._lacks(Capability.KEYED_UPSERT)

    def update_where(
        self,
        table: str,
        values: Mapping[str, Any],
        where: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        """Set ``values`` (and add one to ``increment`` columns) on the rows whose columns
        equal ``where`` (None: is null); return how many. ``UPDATE_WHERE``."""
        raise self._lacks(Capability.UPDATE_WHERE)

    def _lacks(self, capability: Capability) -> WarehouseError:
        # Reached only by a caller that skipped Store's check at its start.
        return WarehouseError(f"the {self.engine} warehouse does not offer {capability} yet")

    @abstractmethod
    def replace_restated(self, ingest_id: int) -> int:
        """Replace older rows of every (BillingAccountId, BillingPeriodStart) this ingest
        covers with its own; return how many older rows were replaced."""

    def lookup_table(self, name: str, data: Any) -> ir.Table:
        """A small Arrow table (e.g. the catalog's instance types) to join in a load query.

        The engine ships it with the query; nothing is stored.
        """
        import ibis

        return ibis.memtable(data)

    @abstractmethod
    def record_ingest(self, **fields: Any) -> None:
        """Add the row to ``ingests`` that makes this load known (and idempotent)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
