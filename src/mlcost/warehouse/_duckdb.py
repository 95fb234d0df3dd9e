"""The embedded DuckDB warehouse: one file, one writer, one transaction per ingest."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import (
    ConfigError,
    WarehouseError,
    WarehouseTooNew,
)
from mlcost.warehouse import _migrations
from mlcost.warehouse._base import CSV_NULLS, Capability, Warehouse
from mlcost.warehouse._duckdb_lock import connect, lock_wait
from mlcost.warehouse._schema import (
    ROLLUP_DIMENSIONS,
    ROLLUP_METRICS,
    ROLLUP_STATE,
    ROLLUP_TABLE,
    rollup_select,
)
from mlcost.warehouse._tag_rollups import TAG_PREFIX, TagRollups
from mlcost.warehouse._target import DuckDBTarget

if TYPE_CHECKING:
    from datetime import date, datetime

    import ibis.expr.types as ir

    from mlcost.warehouse._functions import EngineFunctions

_log = logging.getLogger(__name__)
# The rollup's columns by name: only these ever reach daily_sums' SQL.
ROLLUP_BY_NAME = {c: c for c in ROLLUP_DIMENSIONS}
ROLLUP_METRICS_BY_NAME = {m: m for m in ROLLUP_METRICS}


class DuckDBWarehouse(Warehouse):
    """The embedded warehouse: Ibis for reads, one DuckDB transaction for each load's writes.

    >>> wh = open_duckdb(DuckDBTarget(":memory:"))
    >>> wh.schema_version == _migrations.LATEST
    True
    >>> wh.close()
    """

    engine = "duckdb"
    capabilities = frozenset(Capability)

    def __init__(
        self,
        con: Any,
        target: DuckDBTarget,
        *,
        read_only: bool,
        tag_rollups: TagRollups | None = None,
    ) -> None:
        self.ibis = con  # the Ibis backend; everything that reads goes through it
        self.target = target
        self.url = target.url
        self.read_only = read_only
        self._raw = con.con  # the duckdb connection, for transactions and DDL
        self._sql("SET TimeZone = 'UTC'")
        # DuckDB draws its own progress bar on stdout for queries over 2 s; a library must not
        # print into its caller's output. query_progress() keeps working without the drawing.
        self._sql("SET enable_progress_bar_print = false")
        self._in_transaction = False
        self._rollup_stale = False  # a write to cost_line_items in the open transaction
        self._rollup_current: bool | None = None  # read-only: whether cost_daily is current
        # Ibis tables by name: reflecting a schema costs more than a small query. Schemas
        # change only by our own DDL (migrations at open, added x_ columns, transactions),
        # and DuckDB's file lock keeps other processes from writing meanwhile.
        self._tables: dict[str, ir.Table] = {}
        # A read-only open's rollups by tags, shared with its cursors (_tag_rollups.py).
        self._owns_rollups = tag_rollups is None  # the open, not a cursor: detaches them
        self._tag_rollups = tag_rollups or TagRollups()

    def _sql(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement and fetch all of its result (DuckDB wants results drained)."""
        rows: list[tuple[Any, ...]] = self._raw.execute(sql, params).fetchall()
        return rows

    def _large(self, sql: str) -> None:
        """A statement that writes a large result (INSERT … SELECT): DuckDB's out of memory
        becomes a ``WarehouseError`` that says what to change. (Not in ``_sql``: its callers
        catch ``duckdb.Error`` where a failure has a fallback.)"""
        import duckdb

        try:
            self._sql(sql)
        except duckdb.OutOfMemoryException as exc:
            raise self._out_of_memory(exc) from exc

    def _out_of_memory(self, exc: Exception) -> WarehouseError:
        """What to change when a statement needs more than the memory and temp space."""
        spill = f"{self.target.path}.tmp" if self.target.path != ":memory:" else "the temp folder"
        return WarehouseError(
            f"DuckDB ran out of memory: memory_limit is {self.target.memory_limit}, and what "
            f"did not fit went to {spill}, which DuckDB lets grow to 90% of the disk space "
            "free when the command started. Free disk space there, or raise memory_limit "
            f"(MLCOST_MEMORY_LIMIT or memory_limit in mlcost.toml). DuckDB said: "
            f"{str(exc).splitlines()[0]}"
        )

    # -- reads -------------------------------------------------------------------------
    @property
    def functions(self) -> EngineFunctions:
        from mlcost.warehouse._functions import DUCKDB

        return DUCKDB

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        import duckdb

        return (duckdb.Error,)

    @property
    def schema_version(self) -> int:
        return _migrations.current_version(self._raw) if not self.read_only else self._version()

    def _version(self) -> int:
        row = self._sql("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]
        return int(row[0])

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            self._tables[name] = self.ibis.table(name)
        return self._tables[name]

    def tables(self) -> list[str]:
        """Names of the tables in the warehouse."""
        return sorted(row[0] for row in self._sql("SELECT table_name FROM duckdb_tables()"))

    def read_files(self, paths: Sequence[Path], fmt: str) -> ir.Table:
        """An Ibis table over CSV (every column as text) or Parquet files, streamed, not loaded.

        Parquet tables get a ``file_row_number`` column (0-based) for error messages.
        """
        files = [str(p) for p in paths]
        if fmt == "csv":
            return self.ibis.read_csv(
                files, all_varchar=True, nullstr=list(CSV_NULLS), header=True, auto_detect=True
            )
        if fmt == "parquet":
            return self.ibis.read_parquet(files, file_row_number=True)
        raise ValueError(f"unknown file format {fmt!r}")

    def read_csv_files(
        self, paths: Sequence[Path], header: Sequence[str], *, filename: bool = False
    ) -> ir.Table:
        """Comma-separated files that share ``header`` as one streamed table of text columns.

        The header is given, so DuckDB does not sniff each file (sniffing 100 files costs more
        than reading them). ``filename`` adds a ``filename`` column naming each row's file.
        """
        return self.ibis.read_csv(
            [str(p) for p in paths],
            header=True,
            auto_detect=False,
            delim=",",
            quote='"',
            columns=dict.fromkeys(header, "VARCHAR"),
            filename=filename,
        )

    def read_lines(self, paths: Sequence[Path]) -> ir.Table:
        return self._read_text(paths, {"line": "VARCHAR"}, delim="\x01")

    def read_fields(self, paths: Sequence[Path], count: int) -> ir.Table:
        # DuckDB's CSV reader splits the fields as it reads, in parallel: no per-value string
        # work in the query. ``null_padding`` gives a short line NULLs; the reader refuses a
        # long one; ``nullstr`` (a byte no log holds) keeps an empty field '' as split gives.
        columns = {f"f{i}": "VARCHAR" for i in range(count)}
        return self._read_text(paths, columns, delim=",", null_padding=True, nullstr="\x02")

    def _read_text(
        self, paths: Sequence[Path], columns: dict[str, str], *, delim: str, **options: Any
    ) -> ir.Table:
        """Text files as given columns: no header, no sniffing, no quoting, with ``filename``."""
        return self.ibis.read_csv(
            [str(p) for p in paths],
            columns=columns,
            header=False,
            auto_detect=False,
            delim=delim,
            quote="",
            escape="",
            filename=True,
            **options,
        )

    def with_row_ids(self, table: str, column: str) -> ir.Table | None:
        """``table`` with DuckDB's ``rowid`` as ``column`` (stable until the table is written)."""
        if not re.fullmatch(r"[A-Za-z_]+", table + column):
            raise WarehouseError(f"bad table or column name {table!r}.{column!r}")
        import ibis

        # The schema given: no DESCRIBE round trip for Ibis to learn it.
        schema = ibis.schema({column: "int64", **self.table(table).schema()})
        return self.ibis.sql(f'SELECT rowid AS "{column}", * FROM {table}', schema=schema)

    @contextmanager
    def temporary(self, expr: ir.Table) -> Iterator[ir.Table]:
        """``expr`` computed once into a session-private table, dropped on exit.

        For results that later expressions read several times and that must not change
        between reads (row numbers). Allowed on a read-only warehouse: nothing is persisted.
        """
        import uuid

        import duckdb

        name = f"_mlcost_tmp_{uuid.uuid4().hex}"
        table = self.ibis.create_table(name, obj=expr, temp=True)
        drop = f'DROP TABLE IF EXISTS temp.main."{name}"'
        try:
            yield table
        except BaseException:
            # A failed statement aborts the transaction, and the DROP fails with it: the
            # rollback (or the session's end) removes the table; the first error is the one
            # to report.
            with suppress(duckdb.Error):
                self._sql(drop)
            raise
        self._sql(drop)

    # -- writes ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together, or not at all."""
        self._require_writable()
        self._sql("BEGIN TRANSACTION")
        self._in_transaction = True
        self._tables.clear()
        try:
            yield
        except BaseException:
            self._sql("ROLLBACK")
            self._rollup_stale = False  # the mark rolled back with the writes
            raise
        else:
            self._sql("COMMIT")
        finally:
            self._in_transaction = False
            self._tables.clear()
        if self._rollup_stale:
            self._rollup_stale = False
            self.refresh_rollup()

    def _wrote(self, table: str) -> None:
        """Note a write; the first to cost_line_items marks the rollup out of date with it."""
        if table == "cost_line_items" and not self._rollup_stale and self._has_rollup():
            self._sql(f"UPDATE {ROLLUP_STATE} SET current = false")
            self._rollup_stale = True

    def _has_rollup(self) -> bool:
        return ROLLUP_TABLE in self._tables or ROLLUP_TABLE in self.tables()

    def rollup(self) -> ir.Table | None:
        """The daily rollup of cost_line_items when it is current, else None.

        None in a file migrated short of it, and between a commit that changed line items
        and the end of the refresh that follows it (or after a refresh that failed). A
        read-only open asks once: nothing can write the file while it is open.
        """
        if self.read_only and self._rollup_current is not None:
            current = self._rollup_current
        else:
            current = bool(
                self._has_rollup() and self._sql(f"SELECT current FROM {ROLLUP_STATE}")[0][0]
            )
            if self.read_only:
                self._rollup_current = current
        return self.table(ROLLUP_TABLE) if current else None

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
        """The rollup's sums in one parameterised query (what ``spend`` compiles to)."""
        if self.rollup() is None:
            return None
        # Only the rollup's own column names reach the SQL (a KeyError otherwise); the
        # result's names are any text, quoted.
        summed = ROLLUP_METRICS_BY_NAME[metric]
        table, sources = ROLLUP_TABLE, dict(ROLLUP_BY_NAME)
        tags = tuple(sorted({c for c, _ in keys if c.startswith(TAG_PREFIX)}))
        if tags:
            # On a read-only open only: its data cannot change under the rollup by tags.
            found = self._tag_rollups.table(self._sql, tags) if self.read_only else None
            if found is None:
                return None
            table = found
            sources.update((d, f"t{n}") for n, d in enumerate(tags))
        columns = [sources[c] for c, _ in keys]
        where: list[str] = []
        params: list[date | int] = []
        if first_day is not None:
            where.append("ChargeDay >= ?")
            params.append(first_day)
        if end_day is not None:
            where.append("ChargeDay < ?")
            params.append(end_day)
        if not purchases:
            where.append("NOT x_CommitmentPurchase")
        if ingest_id is not None:
            where.append("x_IngestId = ?")
            params.append(ingest_id)
        names = [_quoted_name(n) for _, n in keys]
        picked = [f'"{c}" AS {n}' for c, n in zip(columns, names, strict=True)]
        amount = _quoted_name(metric)
        sql = (
            f'SELECT {", ".join([*picked, "BillingCurrency"])}, sum("{summed}") AS {amount} '
            f"FROM {table} {'WHERE ' + ' AND '.join(where) if where else ''} "
            f"GROUP BY ALL ORDER BY {', '.join([f'{amount} DESC', *(f'{n} ASC' for n in names)])}"
        )
        rows: list[dict[str, Any]] = self._raw.execute(sql, params).arrow().read_all().to_pylist()
        return rows

    def prepared(self, expr: ir.Table, stand_ins: Mapping[str, datetime]) -> str | None:
        sql: str = self.ibis.compile(expr)
        for name, t in stand_ins.items():
            if t.tzinfo is not None or t.microsecond or not name.isidentifier():
                return None
            # How Ibis writes a naive timestamp literal for DuckDB.
            literal = re.compile(
                rf"MAKE_TIMESTAMP\({t.year}, {t.month}, {t.day}, {t.hour}, {t.minute}, "
                rf"{t.second}(?:\.0+)?\)"
            )
            sql, found = literal.subn(f"${name}", sql)
            if found != 1:
                return None
        return sql

    def run_prepared(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = (
            self._raw.execute(sql, dict(params)).arrow().read_all().to_pylist()
        )
        return rows

    def cursor(self) -> DuckDBWarehouse:
        """Another session on this open file (a DuckDB cursor: its own transaction and
        settings, the same database and file lock), for another thread: a DuckDB connection
        must not run two queries at once. Close it before the warehouse it came from."""
        import ibis

        con = ibis.duckdb.from_connection(self._raw.cursor())
        return DuckDBWarehouse(
            con, self.target, read_only=self.read_only, tag_rollups=self._tag_rollups
        )

    def limit_threads(self, threads: int) -> None:
        """Run each query of this open (and its cursors) on at most ``threads`` threads: a
        server runs several small queries at once, and DuckDB's worker threads for each of
        them cost more CPU than they save."""
        self._sql(f"SET threads = {int(threads)}")

    def refresh_rollup(self) -> bool:
        """Bring the rollup up to date in its own transaction; False if it could not.

        Runs after every commit that wrote line items, and on opening a writable file whose
        rollup is out of date. Line items are only inserted or deleted (never updated), so
        an ingest whose line-item count equals the rows its rollup summarizes is unchanged;
        the others (a new load, older loads a restatement cut) are recomputed. Rows without
        an ingest id (written by tools and tests) count as ingest -1. It runs after the
        load's COMMIT, not inside it: DuckDB holds a transaction's own writes in memory, and
        grouping 10 million of them again there overran a 1 GB memory limit. If it fails,
        ``spend`` reads the line items until a later refresh succeeds.
        """
        import duckdb

        if not self._has_rollup():
            return False
        self._sql("BEGIN TRANSACTION")
        try:
            stale = self._sql(
                f"""SELECT k FROM
                      (SELECT coalesce(x_IngestId, -1) AS k, count(*) AS n
                       FROM cost_line_items GROUP BY ALL) AS l
                    FULL OUTER JOIN
                      (SELECT coalesce(x_IngestId, -1) AS k, sum(x_Rows) AS n
                       FROM {ROLLUP_TABLE} GROUP BY ALL) AS r
                    USING (k)
                    WHERE l.n IS DISTINCT FROM r.n"""
            )
            ids = [int(row[0]) for row in stale]
            chosen = "coalesce(x_IngestId, -1) IN (SELECT unnest($ids))"
            if ids:
                self._sql(f"DELETE FROM {ROLLUP_TABLE} WHERE {chosen}", {"ids": ids})
                self._sql(
                    f"INSERT INTO {ROLLUP_TABLE} {rollup_select('WHERE ' + chosen)}", {"ids": ids}
                )
            self._sql(f"UPDATE {ROLLUP_STATE} SET current = true")
        except duckdb.Error as exc:
            self._sql("ROLLBACK")
            _log.warning(
                "the daily rollup of %s could not be refreshed (%s); spend reads the line "
                "items until the next write or writable open refreshes it",
                self.url,
                exc,
            )
            return False
        self._sql("COMMIT")
        return True

    def _add_text_column(self, table: str, name: str) -> None:
        self._sql(f'ALTER TABLE {table} ADD COLUMN "{name}" VARCHAR')
        self._tables.pop(table, None)

    def insert(
        self,
        table: str,
        expr: ir.Table,
        *,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """INSERT the rows of ``expr`` (columns named as the table's) into ``table``.

        ``progress`` is called with the fraction done (0..1) while the query runs.
        """
        self._require_transaction()
        import ibis

        target = self.columns(table)
        expr = expr.select(*[c for c in target if c in expr.columns])
        # Small lookup tables built in Python (ibis.memtable) must exist in the engine first.
        self.ibis._register_in_memory_tables(expr)
        sql = ibis.to_sql(expr, dialect="duckdb")
        cols = ", ".join(f'"{c}"' for c in expr.columns)
        self._run_with_progress(f"INSERT INTO {table} ({cols}) {sql}", progress)
        self._wrote(table)

    def insert_arrow(self, table: str, data: Any) -> int:
        """INSERT the rows of a pyarrow Table (columns named as the table's); return the count.

        DuckDB scans the Arrow data in place; values are cast to the table's column types.
        """
        self._require_transaction()
        target = self.columns(table)
        cols = [c for c in data.column_names if c in target]
        view = f"_mlcost_arrow_{threading.get_ident()}"
        self._raw.register(view, data)
        try:
            names = ", ".join(f'"{c}"' for c in cols)
            self._sql(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")
        finally:
            self._raw.unregister(view)
        self._wrote(table)
        return int(data.num_rows)

    def replace_window(
        self, table: str, expr: ir.Table, *, column: str, start: Any, end: Any
    ) -> int:
        """Delete the rows of ``table`` whose ``column`` is in ``[start, end)``, insert ``expr``.

        Derived tables (``allocated_costs``) are rebuilt a window at a time. Returns rows
        inserted.
        """
        self._require_transaction()
        if not re.fullmatch(r"[A-Za-z_]+", table + column):
            raise WarehouseError(f"bad table or column name {table!r}.{column!r}")
        self._sql(f'DELETE FROM {table} WHERE "{column}" >= ? AND "{column}" < ?', [start, end])
        before = int(self._sql(f"SELECT count(*) FROM {table}")[0][0])
        self.insert(table, expr)
        return int(self._sql(f"SELECT count(*) FROM {table}")[0][0]) - before

    def count_rows(self, table: str, ingest_id: int, column: str = "ingest_id") -> int:
        """Rows of ``table`` written by one ingest."""
        if not re.fullmatch(r"[A-Za-z_]+", table + column):
            raise WarehouseError(f"bad table or column name {table!r}.{column!r}")
        return int(
            self._sql(f'SELECT count(*) FROM {table} WHERE "{column}" = ?', [ingest_id])[0][0]
        )

    def delete_replaced(self, table: str, key: str, ingest_id: int) -> int:
        """Delete rows of ``table`` whose ``key`` the ingest ``ingest_id`` wrote again.

        Workload records are updated in place by newer exports (a run that finished, a job
        that ended): the newest load of a ``workload_id`` wins. Returns rows deleted.
        """
        self._require_transaction()
        if not re.fullmatch(r"[A-Za-z_]+", table + key):
            raise WarehouseError(f"bad table or column name {table!r}.{key!r}")
        self._wrote(table)
        rows = self._sql(
            f"""DELETE FROM {table} WHERE ingest_id <> $id
                AND "{key}" IN (SELECT "{key}" FROM {table} WHERE ingest_id = $id)""",
            {"id": ingest_id},
        )
        return int(rows[0][0]) if rows else 0

    def lookup_table(self, name: str, data: Any) -> ir.Table:
        """A small Arrow table (a lookup such as the catalog's instance types) as an Ibis table.

        It lives in this connection only, so queries can join it; the data is not stored.
        """
        self._raw.register(name, data)
        return self.ibis.table(name)

    def _run_with_progress(self, sql: str, progress: Callable[[float], None] | None) -> None:
        if progress is None:
            self._large(sql)
            return
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                fraction = self._raw.query_progress()
                if fraction is not None and fraction >= 0:
                    progress(min(fraction / 100.0, 1.0))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            self._large(sql)
        finally:
            done.set()
            watcher.join()
        progress(1.0)

    def replace_restated(self, ingest_id: int) -> int:
        """Delete older rows of every (BillingAccountId, BillingPeriodStart) this ingest covers.

        Providers re-issue a billing period; the newer export replaces the old one. Returns
        the number of rows deleted.
        """
        self._require_transaction()
        rows = self._sql(
            """DELETE FROM cost_line_items
               WHERE x_IngestId <> $id
                 AND (BillingAccountId, BillingPeriodStart) IN (
                     SELECT DISTINCT BillingAccountId, BillingPeriodStart
                     FROM cost_line_items WHERE x_IngestId = $id)""",
            {"id": ingest_id},
        )
        self._wrote("cost_line_items")
        return int(rows[0][0]) if rows else 0

    def record_ingest(self, **fields: Any) -> None:
        self._require_transaction()
        names = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        self._sql(
            f"INSERT INTO ingests ({names}, loaded_at) VALUES ({marks}, now()::TIMESTAMP)",
            list(fields.values()),
        )

    # -- row writes: features' own tables (alerts, the audit, tokens, findings) -----------
    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """INSERT rows given as values (each a mapping of column to value); return the count."""
        self._require_transaction()
        for row in rows:
            cols = _names(table, row)
            self._sql(
                f"INSERT INTO {table} ({_quoted(cols)}) VALUES ({_marks(cols)})",
                [row[c] for c in cols],
            )
        return len(rows)

    def upsert(
        self,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        key: Sequence[str],
        update: Sequence[str] = (),
    ) -> int:
        """INSERT rows; a row whose ``key`` exists updates its ``update`` columns (none: it is
        left as it is). Returns the rows written (inserted or updated)."""
        self._require_transaction()
        written = 0
        for row in rows:
            cols = _names(table, row, *key, *update)
            conflict = f"ON CONFLICT ({_quoted(key)}) DO " + (
                "UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in update)
                if update
                else "NOTHING"
            )
            done = self._sql(
                f"INSERT INTO {table} ({_quoted(cols)}) VALUES ({_marks(cols)}) {conflict} "
                f'RETURNING "{key[0]}"',
                [row[c] for c in cols],
            )
            written += len(done)
        return written

    def update_where(
        self,
        table: str,
        values: Mapping[str, Any],
        where: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        """UPDATE the rows whose columns equal ``where`` (None: IS NULL): set ``values``, add
        one to each ``increment`` column. Returns the rows updated."""
        self._require_transaction()
        _names(table, values, *where, *increment)
        sets = [f'"{c}" = ?' for c in values] + [f'"{c}" = "{c}" + 1' for c in increment]
        conds = [f'"{c}" IS NULL' if v is None else f'"{c}" = ?' for c, v in where.items()]
        params = [*values.values(), *(v for v in where.values() if v is not None)]
        found = self._sql(
            f"UPDATE {table} SET {', '.join(sets)} WHERE {' AND '.join(conds) or 'true'} "
            "RETURNING 1",
            params,
        )
        return len(found)

    def close(self) -> None:
        import duckdb

        if self._owns_rollups:
            with suppress(duckdb.Error):  # a close must not fail
                self._tag_rollups.detach(self._sql)
        self.ibis.disconnect()


def open_duckdb(
    target: DuckDBTarget,
    *,
    read_only: bool = False,
    migrate_to: int | None = None,
) -> DuckDBWarehouse:
    """Open (creating and migrating if needed) the warehouse at ``target``.

    ``target.memory_limit`` caps DuckDB's memory (it spills to disk beyond it; see
    ``mlcost.config``). ``migrate_to`` stops migrations at a version, for tests of upgrades.
    """
    import duckdb

    path, memory_limit = target.path, target.memory_limit
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if read_only and not Path(path).exists():
            raise WarehouseError(
                f"No warehouse at {path}. Load data first, e.g. `mlcost ingest focus FILE`."
            )
    con = connect(path, read_only=read_only, wait=0.0 if read_only else lock_wait())
    wh = DuckDBWarehouse(con, target, read_only=read_only)
    try:
        wh._sql("SET memory_limit = ?", [memory_limit])  # a value, never SQL text
    except duckdb.Error as exc:
        wh.close()
        raise ConfigError(
            f"memory_limit {memory_limit!r} is not a size DuckDB understands ({exc}). "
            "Write it like '1GB' or '512MB'."
        ) from None
    if not read_only:
        raw = con.con
        version = _migrations.current_version(raw)
        if version > _migrations.LATEST:
            wh.close()
            raise WarehouseTooNew(
                f"{path} has schema version {version}, newer than this mlcost knows "
                f"({_migrations.LATEST}). Upgrade mlcost (pip install -U mlcost); "
                "the file was not changed."
            )
        _migrations.migrate(raw, _migrations.LATEST if migrate_to is None else migrate_to)
        if path != ":memory:" and _untracked_bytes(raw, path) > COMPACT_MIN_BYTES:
            wh = _compacted(wh, target)
        if wh._has_rollup() and wh.rollup() is None:
            wh.refresh_rollup()  # a refresh that failed or was cut off last time
    return wh


# A file that holds this much more than its blocks (a load killed mid-write leaves what it wrote
# in the file, untracked; DuckDB reuses it but never gives it back) is compacted on a writable
# open, when the waste is also more than the data itself.
COMPACT_MIN_BYTES = 16 * 2**20
_HEADER_BYTES = 3 * 4096  # DuckDB's file header: three 4 KiB blocks before the data blocks


def _untracked_bytes(raw: Any, path: str) -> int:
    """Bytes of the file that no block of the database accounts for (0 when it holds less
    waste than data: compacting then would not pay for its copy)."""
    import os

    row = raw.execute(
        "SELECT block_size, total_blocks FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchone()
    if row is None:
        return 0
    block_size, blocks = row
    tracked = _HEADER_BYTES + int(blocks) * int(block_size)
    waste = os.path.getsize(path) - tracked
    return waste if waste > tracked else 0


def _compacted(wh: DuckDBWarehouse, target: DuckDBTarget) -> DuckDBWarehouse:
    """The warehouse copied into a fresh file (DuckDB's documented way to give space back:
    ``COPY FROM DATABASE``) that replaces the old one atomically. The copy is made through the
    open connection, so the write lock is held until the new file is in place: a writer that
    waited opens the new file, and nothing written is lost; killed half-way, the old file is
    left as it was."""
    import os

    path = target.path
    fresh = f"{path}.compact"
    for leftover in (fresh, f"{fresh}.wal"):
        Path(leftover).unlink(missing_ok=True)
    raw = wh._raw
    # Empty the write-ahead log first: it lives beside the file by name, and a log of the old
    # file must never be replayed onto the new one.
    raw.execute("CHECKPOINT")
    row = raw.execute("SELECT current_database()").fetchone()
    assert row is not None
    quoted = fresh.replace("'", "''")
    raw.execute(f"ATTACH '{quoted}' AS mlcost_compact")
    try:
        raw.execute(f'COPY FROM DATABASE "{row[0]}" TO mlcost_compact')
        raw.execute("CHECKPOINT mlcost_compact")
    finally:
        raw.execute("DETACH mlcost_compact")
    os.replace(fresh, path)
    wh.close()
    logging.getLogger(__name__).info("compacted %s (space left by an interrupted load)", path)
    fresh_wh = DuckDBWarehouse(
        connect(path, read_only=False, wait=lock_wait()), target, read_only=False
    )
    fresh_wh._sql("SET memory_limit = ?", [target.memory_limit])
    return fresh_wh


def _names(table: str, row: Mapping[str, Any], *more: str) -> list[str]:
    """The columns of ``row`` (checked to be plain names, as ``table`` is)."""
    cols = list(row)
    for name in (table, *cols, *more):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
            raise WarehouseError(f"bad table or column name {name!r}")
    return cols


def _quoted(cols: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in cols)


def _quoted_name(name: str) -> str:
    """``name`` as a quoted SQL identifier (any text: a result column's alias)."""
    return '"' + name.replace('"', '""') + '"'


def _marks(cols: Sequence[str]) -> str:
    return ", ".join("?" for _ in cols)
