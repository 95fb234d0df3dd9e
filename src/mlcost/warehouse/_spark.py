"""The Spark warehouse: tables in a Spark catalog, read through Ibis's PySpark backend.

``spark://local[2]?warehouse_dir=PATH`` starts a local session whose tables live under PATH
(Parquet files, with the table catalog in an embedded Derby metastore next to them);
``spark://HOST:PORT?…`` joins a standalone cluster and uses the catalog that cluster is
configured with. Query parameters: ``warehouse_dir``, ``database`` (default ``mlcost``),
``format`` (``parquet``, or ``delta`` / ``iceberg`` where the session has them), and any
``spark.*`` setting, passed to the session as it is.

Writes differ from DuckDB's because Spark has no multi-statement transaction over Parquet
tables. An ingest is written in three steps:

1. every file's rows go to a *stage* table (this is where bad values fail the load: the
   warehouse is untouched until the stage is complete and checked);
2. the stage replaces exactly the (BillingPeriodStart, BillingAccountId) partitions it covers
   of ``cost_line_items``, in one dynamic partition overwrite — a restatement;
3. the ``ingests`` row is written last: it is the commit record. A crash between 2 and 3
   leaves the new rows without their record; loading the same files again repeats the
   overwrite (same partitions, same rows) and records it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlcost.errors import UnsupportedWarehouse, WarehouseError
from mlcost.warehouse import _migrations
from mlcost.warehouse._base import CSV_NULLS, Capability, Warehouse
from mlcost.warehouse._links import BUILDERS as LINK_VIEWS
from mlcost.warehouse._schema import (
    ROLLUP_STATE,
    ROLLUP_TABLE,
    rollup_select,
)
from mlcost.warehouse._spark_rows import (
    aware,
    check_columns,
    conformed,
    partition_value,
    spark_value,
    to_spark,
)
from mlcost.warehouse._spark_schema import (
    CONTRACT_COMMITMENTS,
    INGESTS,
    PARTITION_BY,
    PARTITIONED,
    SCHEMA_MIGRATIONS,
    allocated_costs_columns,
    cost_line_items_columns,
    ddl_columns,
    duckdb_columns,
    duckdb_schema,
    not_null,
)
from mlcost.warehouse._target import SparkTarget

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse._functions import EngineFunctions

_log = logging.getLogger(__name__)

_STAGE = "_mlcost_stage_"
# What every mlcost SQL session runs with.
SESSION_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    # A bad number or timestamp fails the query instead of becoming NULL (Spark 4 default).
    "spark.sql.ansi.enabled": "true",
    # An overwrite replaces only the partitions written: a restatement, not a truncation.
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
}

# The target of a Spark warehouse (the name this module gave it before targets existed).
SparkSettings = SparkTarget


# The Spark context this process started, and how many open warehouses use it: it is stopped
# when the last of them closes, not by whichever opened first (a server's request threads
# each open the warehouse; a context stopped under the others fails their queries).
_STARTED_LOCK = threading.Lock()
_started: Any = None  # a SparkContext
_users = 0


def spark_session(settings: SparkSettings) -> Any:
    """The Spark session for ``settings``; one on a context this process started counts as a
    user until :func:`release_session`.

    A running session (a notebook's, a test's, another thread's) is reused when it
    matches; its static settings cannot change, so a different master or warehouse folder is
    refused.
    """
    global _started, _users
    with _STARTED_LOCK:
        session, new = _running_or_new(settings)
        if new:
            _started, _users = session.sparkContext, 0
        if _started is not None and session.sparkContext is _started:
            _users += 1
        return session


def release_session(session: Any) -> None:
    """One user of ``session`` is done: the last user of the context this process started
    stops it."""
    global _started, _users
    with _STARTED_LOCK:
        if _started is None or session.sparkContext is not _started:
            return
        _users -= 1
        if _users <= 0:
            _started, _users = None, 0
            session.stop()


def _running_or_new(settings: SparkSettings) -> tuple[Any, bool]:
    """A running session that matches ``settings``, or a new one; and whether it is new."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None and SparkContext._active_spark_context is not None:
        # The JVM's active session is per thread: a context started by another thread of
        # this process (a server's first request) has no active session in this one.
        active = SparkSession.builder.getOrCreate()
    if active is not None:
        conf = active.sparkContext.getConf()
        folder = conf.get("spark.sql.warehouse.dir", None)
        same_folder = settings.warehouse_dir is None or (
            folder is not None
            and Path(folder.removeprefix("file:")) == Path(settings.warehouse_dir)
        )
        if active.sparkContext.master != settings.master or not same_folder:
            raise WarehouseError(
                f"A Spark session is already running ({active.sparkContext.master}, warehouse "
                f"{folder}); a process has one. Open spark://... with the same master and "
                "warehouse_dir, or start another process."
            )
        return active, False
    builder = SparkSession.builder.master(settings.master).appName("mlcost")
    defaults = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # no progress bars in our callers' output
        **SESSION_SETTINGS,
    }
    if settings.local:
        # 200 shuffle partitions is sized for clusters; on a few local cores it is overhead.
        defaults["spark.sql.shuffle.partitions"] = "8"
    if settings.warehouse_dir:
        path = Path(settings.warehouse_dir)
        path.mkdir(parents=True, exist_ok=True)
        defaults["spark.sql.warehouse.dir"] = str(path)
        if settings.local:
            # The table catalog persists in an embedded Derby metastore inside the folder
            # (one process at a time, like a DuckDB file), not in the current directory.
            metastore = f"jdbc:derby:;databaseName={path / 'metastore_db'};create=true"
            defaults["spark.hadoop.javax.jdo.option.ConnectionURL"] = metastore
            defaults["spark.driver.extraJavaOptions"] = f"-Dderby.system.home={path}"
            builder = builder.enableHiveSupport()
    for key, value in {**defaults, **settings.conf}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(settings.conf.get("spark.log.level", "FATAL"))
    return session, True


class SparkWarehouse(Warehouse):
    """A warehouse in a Spark catalog: Ibis for reads, staged partition overwrites for writes."""

    engine = "spark"
    # Row writes, keyed upserts and updates on plain Parquet tables: the features' tables
    # are small (alerts, findings, the audit, tokens), so a transaction that changes one reads
    # it once, applies its changes in memory and rewrites it whole at commit (stage table,
    # then INSERT OVERWRITE); rows only added are appended.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)

    def __init__(self, session: Any, target: SparkTarget, *, read_only: bool) -> None:
        import ibis

        # A session of our own per warehouse: its current database and temporary views are
        # its own, while the Spark context (the JVM, the executors) is shared.
        self._session = session.newSession()
        # Set on our own SQL session whoever started the context: a notebook's session may
        # have static partition overwrite, which would replace the whole table.
        for key, value in SESSION_SETTINGS.items():
            self._session.conf.set(key, value)
        self._base_session: Any = session  # None once closed
        self.settings = self.target = target
        self.url = target.url
        self.read_only = read_only
        self.ibis = ibis.pyspark.connect(self._session)
        self._staged: dict[str, str] = {}  # table -> stage table of this transaction
        self._pending_ingest: dict[str, Any] | None = None
        self._reset()

    # -- reads -------------------------------------------------------------------------
    @property
    def functions(self) -> EngineFunctions:
        from mlcost.warehouse._functions import SPARK

        return SPARK

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        return (PySparkException, Py4JJavaError)

    def _name(self, table: str) -> str:
        return f"`{self.settings.database}`.`{table}`"

    def table(self, name: str) -> ir.Table:
        """A table, or one of the linking views (Ibis expressions here, not catalog views)."""
        builder = LINK_VIEWS.get(name)
        return builder(self.table) if builder is not None else self.ibis.table(name)

    @contextmanager
    def temporary(self, expr: ir.Table) -> Iterator[ir.Table]:
        """``expr`` computed once, held by Spark (memory, spilling to local disk), dropped on exit.

        A local checkpoint: the rows are computed eagerly and later reads use them instead
        of recomputing the query, so numbers drawn once (row numbers) stay put. Allowed on a
        read-only warehouse: nothing is written to the catalog.
        """
        name = f"_mlcost_tmp_{uuid.uuid4().hex}"
        self.ibis.create_view(name, expr, overwrite=True)
        df = self._session.table(name).localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        try:
            yield self.ibis.table(name)
        finally:
            self._session.catalog.dropTempView(name)
            df.unpersist()

    @property
    def schema_version(self) -> int:
        latest = self.table("schema_migrations").version.max().execute()
        return 0 if latest is None or latest != latest else int(latest)

    def tables(self) -> list[str]:
        listed = self._session.catalog.listTables(self.settings.database)
        return sorted(t.name for t in listed if not t.isTemporary and not t.name.startswith(_STAGE))

    def read_files(self, paths: Sequence[Path], fmt: str) -> ir.Table:
        """CSV (every column as text; FOCUS null spellings as NULL) or Parquet, as a view."""
        import ibis

        files = [str(p) for p in paths]
        reader = self._session.read
        if fmt == "csv":
            # RFC 4180 quoting (a quote inside a field is doubled, as in JSON tags); a row
            # that does not parse fails the load instead of becoming NULLs.
            df = reader.csv(files, header=True, inferSchema=False, escape='"', mode="FAILFAST")
            df = df.toDF(*[c.lstrip("\ufeff").strip() for c in df.columns])
        elif fmt == "parquet":
            df = reader.parquet(*files)
        else:
            raise ValueError(f"unknown file format {fmt!r}")
        view = f"mlcost_read_{uuid.uuid4().hex}"
        df.createOrReplaceTempView(view)
        t = self.ibis.table(view)
        if fmt == "csv":
            spelled = [n for n in CSV_NULLS if n]
            t = t.select(
                **{c: ibis.ifelse(t[c].isin(spelled), ibis.null("string"), t[c]) for c in t.columns}
            )
        return t

    def read_csv_files(
        self, paths: Sequence[Path], header: Sequence[str], *, filename: bool = False
    ) -> ir.Table:
        """Comma-separated files that share ``header`` as one table of text columns (empty
        fields NULL); ``filename`` adds a ``filename`` column naming each row's file."""
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(name, StringType()) for name in header])
        df = self._session.read.csv(
            [str(p) for p in paths], schema=schema, header=True, quote='"', mode="FAILFAST"
        )
        if filename:
            df = df.withColumn("filename", df["_metadata.file_path"])
        view = f"mlcost_read_{uuid.uuid4().hex}"
        df.createOrReplaceTempView(view)
        return self.ibis.table(view)

    def read_lines(self, paths: Sequence[Path]) -> ir.Table:
        df = self._session.read.text([str(p) for p in paths])
        df = df.select(df["_metadata.file_path"].alias("filename"), df["value"].alias("line"))
        view = f"mlcost_read_{uuid.uuid4().hex}"
        df.createOrReplaceTempView(view)
        return self.ibis.table(view)

    # -- writes ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Stage writes; on success write them (``ingests`` last); on failure drop them."""
        self._require_writable()
        self._in_transaction = True
        self._reset()
        stale = False
        try:
            yield
            # Everything to write is materialised first (stage tables, DataFrames of values):
            # a bad value fails here, before any table is touched.
            self._stage_rewrites()
            appends = {t: self._frame(t, rows) for t, rows in self._appends.items() if rows}
            stale = "cost_line_items" in self._staged or self._wrote_line_items
            if stale and not self._wrote_line_items and self._has_rollup():
                self._set_rollup_current(False)  # until the refresh after the commit
            for table, stage in self._staged.items():
                self._write(table, stage, overwrite_partitions=table in self._overwrite)
            for table, partitions in self._emptied.items():
                self._drop_partitions(table, partitions)
            for table, frame in appends.items():
                frame.write.insertInto(self._name(table))
            if self._pending_ingest is not None:
                self._append_row("ingests", self._pending_ingest)
        finally:
            for stage in self._staged.values():
                self._session.sql(f"DROP TABLE IF EXISTS {self._name(stage)}")
            self._reset()
            self._in_transaction = False
        if stale:
            self.refresh_rollup()

    def _reset(self) -> None:
        self._staged, self._pending_ingest = {}, None
        self._rows: dict[str, list[dict[str, Any]]] = {}  # table -> its rows after this transaction
        self._changed: set[str] = set()  # tables of _rows that differ from what is stored
        self._appends: dict[str, list[dict[str, Any]]] = {}  # rows only added, per table
        self._wrote_line_items = False  # cost_line_items replaced in place (replace_restated)
        self._overwrite: set[str] = set()  # tables whose stage replaces partitions (or all)
        self._emptied: dict[str, list[tuple[Any, ...]]] = {}  # partitions left with no rows

    def _write(self, table: str, stage: str, *, overwrite_partitions: bool) -> None:
        df = self._session.table(self._name(stage)).select(*self.columns(table))
        # With partitionOverwriteMode=dynamic, overwrite replaces only the partitions the
        # stage has rows for.
        df.write.insertInto(self._name(table), overwrite=overwrite_partitions)

    def _add_text_column(self, table: str, name: str) -> None:
        # Spark cannot roll this back: the column stays (empty) if the load then fails.
        for target in (table, self._staged.get(table)):
            if target is not None:
                self._session.sql(f"ALTER TABLE {self._name(target)} ADD COLUMNS (`{name}` STRING)")

    def _conform(self, table: str, expr: ir.Table) -> ir.Table:
        """``expr`` with every column of ``table``, in its order and types (NULL if absent)."""
        import ibis

        schema = self.table(table).schema()
        out = {}
        for name, dtype in schema.items():
            if name not in expr.columns:
                out[name] = ibis.null(dtype)
            else:
                out[name] = expr[name] if expr[name].type() == dtype else expr[name].cast(dtype)
        return expr.select(**out)

    def insert(
        self, table: str, expr: ir.Table, *, progress: Callable[[float], None] | None = None
    ) -> None:
        """Stage the rows of ``expr`` for ``table``; they are checked as they are written."""
        self._require_transaction()
        full = self._conform(table, expr)
        stage = self._staged.get(table)
        if stage is None:
            self._staged[table] = self._new_stage(table, full)
        else:
            self.ibis.insert(stage, full, database=self.settings.database)
        if progress is not None:
            progress(1.0)

    def _new_stage(self, table: str, rows: ir.Table) -> str:
        """A stage table (hidden from :meth:`tables`) holding ``rows``; its name."""
        stage = f"{_STAGE}{table}_{uuid.uuid4().hex[:12]}"
        self.ibis.create_table(stage, rows, database=self.settings.database)
        return stage

    def _drop(self, stage: str) -> None:
        self._session.sql(f"DROP TABLE IF EXISTS {self._name(stage)}")

    def _restage(self, table: str, rows: ir.Table) -> None:
        """Make ``rows`` (which may read the current stage) the stage that replaces ``table``'s
        partitions it covers (all of it, for a table without partitions) when committed."""
        old = self._staged.get(table)
        self._staged[table] = self._new_stage(table, self._conform(table, rows))
        self._overwrite.add(table)
        if old is not None:
            self._drop(old)

    def insert_arrow(self, table: str, data: Any) -> int:
        """Stage the rows of a pyarrow Table (columns named as the table's); return the count."""
        # PySpark takes Arrow as it is (maps included, which an Ibis memtable loses).
        view = f"mlcost_arrow_{uuid.uuid4().hex}"
        self._session.createDataFrame(data).createOrReplaceTempView(view)
        try:
            self.insert(table, self.ibis.table(view))
        finally:
            self._session.catalog.dropTempView(view)
        return int(data.num_rows)

    def count_rows(self, table: str, ingest_id: int, column: str = "ingest_id") -> int:
        """Rows of ``table`` written by one ingest, counting those staged in this transaction."""
        found = super().count_rows(table, ingest_id, column)
        stage = self._staged.get(table)
        if stage is not None:
            t = self.ibis.table(stage)
            found += int(t.filter(t[column] == ingest_id).count().execute())
        return found

    def delete_replaced(self, table: str, key: str, ingest_id: int) -> int:
        """Rows of ``table`` whose ``key`` this ingest writes again are left out when it
        commits (the table is rewritten: stored rows without those keys, plus the new)."""
        self._require_transaction()
        stage = self._staged.get(table)
        if stage is None:
            return 0
        new = self.ibis.table(stage)
        keys = new.filter(new.ingest_id == ingest_id).select(key).distinct()
        old = self.table(table)
        old = old.filter(old.ingest_id != ingest_id)
        replaced = int(old.semi_join(keys, key).count().execute())
        if replaced:
            self._restage(table, old.anti_join(keys, key).union(new))
        return replaced

    def replace_window(
        self, table: str, expr: ir.Table, *, column: str, start: Any, end: Any
    ) -> int:
        """Replace the rows of ``table`` whose ``column`` is in ``[start, end)`` by ``expr``.

        Only the partitions the old or the new rows of the window fall in are rewritten
        (their rows outside the window kept); a partition left empty is dropped. Returns
        rows inserted.
        """
        self._require_transaction()
        if table in self._staged:
            raise WarehouseError(f"{table} already has writes staged in this transaction")
        new_stage = self._new_stage(table, self._conform(table, expr))
        try:
            new = self.ibis.table(new_stage)
            inserted = int(new.count().execute())
            old = self.table(table)
            inside = ((old[column] >= start) & (old[column] < end)).fill_null(False)
            keys = [k for k in PARTITION_BY if k in old.columns] if table in PARTITIONED else []
            kept = old.filter(~inside)
            if keys:
                touched = old.filter(inside).select(*keys).union(new.select(*keys)).distinct()
                kept = kept.semi_join(touched, keys)
            self._restage(table, kept.union(new))
            if keys:
                staged = self.ibis.table(self._staged[table]).select(*keys).distinct()
                gone = touched.anti_join(staged, keys).to_pyarrow().to_pylist()
                self._emptied[table] = [tuple(r[k] for k in keys) for r in gone]
        finally:
            self._drop(new_stage)
        return inserted

    def _drop_partitions(self, table: str, partitions: Sequence[tuple[Any, ...]]) -> None:
        for values in partitions:
            spec = ", ".join(
                f"`{k}` = '{partition_value(v)}'" for k, v in zip(PARTITION_BY, values, strict=True)
            )
            self._session.sql(f"ALTER TABLE {self._name(table)} DROP IF EXISTS PARTITION ({spec})")

    def replace_restated(self, ingest_id: int) -> int:
        """Overwrite the (BillingPeriodStart, BillingAccountId) partitions this ingest's
        staged rows cover; return how many older rows they held."""
        self._require_transaction()
        stage = self._staged.pop("cost_line_items", None)
        if stage is None:
            return 0
        try:
            keys = self.table(stage).select(*PARTITION_BY).distinct()
            old = self.table("cost_line_items")
            replaced = int(old.semi_join(keys, list(PARTITION_BY)).count().execute())
            if self._has_rollup():
                self._set_rollup_current(False)
            self._wrote_line_items = True
            self._write("cost_line_items", stage, overwrite_partitions=True)
        finally:
            self._session.sql(f"DROP TABLE IF EXISTS {self._name(stage)}")
        return replaced

    def record_ingest(self, **fields: Any) -> None:
        """Keep the ``ingests`` row; it is written last, when the transaction ends well."""
        self._require_transaction()
        self._pending_ingest = {**fields, "loaded_at": datetime.now(UTC).replace(tzinfo=None)}

    def _append_row(self, table: str, values: Mapping[str, Any]) -> None:
        schema = self._session.table(self._name(table)).schema
        row = tuple(aware(values.get(f.name)) for f in schema.fields)
        self._session.createDataFrame([row], schema=schema).write.insertInto(self._name(table))

    # -- row writes: features' own tables (alerts, the audit, tokens, findings) -----------
    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Add rows given as values; they are appended when the transaction commits."""
        self._require_transaction()
        fields = self._fields(table)
        values = [conformed(table, fields, row, i) for i, row in enumerate(rows, start=1)]
        if table in self._rows:
            self._rows[table].extend(values)
            self._changed.add(table)
        else:
            self._appends.setdefault(table, []).extend(values)
        return len(values)

    def upsert(
        self,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        key: Sequence[str],
        update: Sequence[str] = (),
    ) -> int:
        """Insert rows; a row whose ``key`` exists (stored, or written earlier in this
        transaction) has its ``update`` columns replaced, or is kept as it is. The table is
        rewritten at commit if anything changed. Returns the rows written."""
        self._require_transaction()
        fields = self._fields(table)
        check_columns(table, fields, [*key, *update])
        current = self._current(table)
        where = {tuple(r[k] for k in key): r for r in current}
        written = 0
        for i, row in enumerate(rows, start=1):
            new = conformed(table, fields, row, i)
            found = where.get(tuple(new[k] for k in key))
            if found is None:
                current.append(new)
                where[tuple(new[k] for k in key)] = new
            elif update:
                found.update({c: new[c] for c in update})
            else:
                continue
            written += 1
        if written:
            self._changed.add(table)
        return written

    def update_where(
        self,
        table: str,
        values: Mapping[str, Any],
        where: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        """Set ``values`` (and add one to ``increment`` columns) on the rows whose columns
        equal ``where`` (None: is null); the table is rewritten at commit. Returns how many."""
        self._require_transaction()
        fields = self._fields(table)
        check_columns(table, fields, [*values, *where, *increment])
        sets = {c: spark_value(table, fields[c], c, v, 0) for c, v in values.items()}
        match = {c: spark_value(table, fields[c], c, v, 0, nullable=True) for c, v in where.items()}
        found = 0
        for row in self._current(table):
            if all(row[c] == v if v is not None else row[c] is None for c, v in match.items()):
                row.update(sets)
                for c in increment:
                    row[c] = None if row[c] is None else row[c] + 1
                found += 1
        if found:
            self._changed.add(table)
        return found

    def _fields(self, table: str) -> dict[str, Any]:
        """The Spark fields of ``table`` by name (with the DuckDB schema's NOT NULLs)."""
        from pyspark.sql.types import StructField

        required = not_null(table)
        fields = self._session.table(self._name(table)).schema.fields
        return {
            f.name: StructField(f.name, f.dataType, f.nullable and f.name not in required)
            for f in fields
        }

    def _current(self, table: str) -> list[dict[str, Any]]:
        """The rows ``table`` will hold after this transaction, read once (small tables only:
        alerts, deliveries, the audit, marks, tokens, findings)."""
        rows = self._rows.get(table)
        if rows is None:
            rows = self.ibis.table(table).to_pyarrow().to_pylist()
            rows += self._appends.pop(table, [])
            stage = self._staged.pop(table, None)
            if stage is not None:  # rows a load staged for it in this transaction
                rows += self.ibis.table(stage).to_pyarrow().to_pylist()
                self._drop(stage)
                self._changed.add(table)
            self._rows[table] = rows
        return rows

    def _frame(self, table: str, rows: Sequence[Mapping[str, Any]]) -> Any:
        """A DataFrame of ``rows`` with ``table``'s schema."""
        schema = self._session.table(self._name(table)).schema
        data = [tuple(to_spark(r.get(f.name), f.dataType) for f in schema.fields) for r in rows]
        return self._session.createDataFrame(data, schema=schema)

    def _stage_rewrites(self) -> None:
        """Each table changed by row writes, whole, into a stage table that replaces it at
        commit: the read-back is materialised before the overwrite (Spark cannot overwrite a
        table that the same query reads)."""
        for table in sorted(self._changed):
            stage = f"{_STAGE}{table}_{uuid.uuid4().hex[:12]}"
            self._staged[table] = stage  # dropped in the transaction's finally, even if cut
            self._frame(table, self._rows[table]).write.format(
                self.settings.table_format
            ).saveAsTable(self._name(stage))
            self._overwrite.add(table)

    # -- the daily rollup ------------------------------------------------------------------
    def _has_rollup(self) -> bool:
        return ROLLUP_TABLE in self.tables()

    def _set_rollup_current(self, current: bool) -> None:
        frame = self._session.createDataFrame(
            [(current,)], schema=self._session.table(self._name(ROLLUP_STATE)).schema
        )
        frame.write.insertInto(self._name(ROLLUP_STATE), overwrite=True)

    def rollup(self) -> ir.Table | None:
        """The daily rollup of cost_line_items when it is current, else None (as on DuckDB)."""
        if not self._has_rollup():
            return None
        state = self._session.table(self._name(ROLLUP_STATE)).collect()
        if not state or not all(row[0] for row in state):
            return None
        return self.table(ROLLUP_TABLE)

    def refresh_rollup(self) -> bool:
        """Bring ``cost_daily`` up to date after a write to the line items; False if it could
        not (``spend`` then reads the line items until a later refresh succeeds).

        As on DuckDB, an ingest whose line-item count equals the rows its rollup rows sum is
        unchanged; the others are recomputed (the same SELECT, transpiled to Spark SQL). The
        rollup is small (days × dimensions), so it is rewritten whole: kept rows and new ones
        into a stage table, then one INSERT OVERWRITE.
        """
        import ibis

        if not self._has_rollup() or self.read_only:
            return False
        try:
            lines, daily = self.table("cost_line_items"), self.table(ROLLUP_TABLE)
            k = ibis.coalesce(lines.x_IngestId, -1)
            counted = lines.group_by(k=k).aggregate(n=lines.count()).to_pyarrow().to_pylist()
            kd = ibis.coalesce(daily.x_IngestId, -1)
            summed = daily.group_by(k=kd).aggregate(n=daily.x_Rows.sum()).to_pyarrow()
            have = {r["k"]: r["n"] for r in counted}
            held = {r["k"]: r["n"] for r in summed.to_pylist()}
            stale = sorted(i for i in have.keys() | held.keys() if have.get(i) != held.get(i))
            if stale:
                ids = ", ".join(str(int(i)) for i in stale)
                fresh = self.ibis.sql(_rollup_sql(f"WHERE coalesce(x_IngestId, -1) IN ({ids})"))
                kept = daily.filter(~kd.isin(stale))
                stage = self._new_stage(
                    ROLLUP_TABLE, kept.union(self._conform(ROLLUP_TABLE, fresh))
                )
                try:
                    self._write(ROLLUP_TABLE, stage, overwrite_partitions=True)
                finally:
                    self._drop(stage)
            self._set_rollup_current(True)
        except self.errors as exc:
            _log.warning(
                "the daily rollup of %s could not be refreshed (%s); spend reads the line "
                "items until the next write or writable open refreshes it",
                self.url,
                exc,
            )
            return False
        return True

    # -- schema ------------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the database and the tables it lacks (every table of the DuckDB schema),
        and add the columns a table created by an older mlcost lacks."""
        db, fmt = self.settings.database, self.settings.table_format
        self._session.sql(f"CREATE DATABASE IF NOT EXISTS `{db}`")
        self._session.catalog.setCurrentDatabase(db)
        own: dict[str, Sequence[tuple[str, str]]] = {
            "cost_line_items": cost_line_items_columns(),
            "allocated_costs": allocated_costs_columns(),
            "ingests": INGESTS,
            "contract_commitments": CONTRACT_COMMITMENTS,
            "schema_migrations": SCHEMA_MIGRATIONS,
        }
        tables = {name: own.get(name) or duckdb_columns(name) for name in duckdb_schema()}
        existing = set(self.tables())
        for name, columns in tables.items():
            if name in existing:
                have = {c.lower() for c in self._session.table(self._name(name)).columns}
                missing = [(c, t) for c, t in columns if c.lower() not in have]
                if missing:
                    self._session.sql(
                        f"ALTER TABLE {self._name(name)} ADD COLUMNS ({ddl_columns(missing)})"
                    )
                continue
            parts = f" PARTITIONED BY ({', '.join(PARTITION_BY)})" if name in PARTITIONED else ""
            self._session.sql(
                f"CREATE TABLE {self._name(name)} ({ddl_columns(columns)}) USING {fmt}{parts}"
            )
        if ROLLUP_TABLE not in existing:
            # Current while empty; a table that predates it is summed by the refresh below.
            self._append_row(ROLLUP_STATE, {"current": not existing})
        if self.schema_version < _migrations.LATEST:
            now = datetime.now(UTC).replace(tzinfo=None)
            self._append_row(
                "schema_migrations",
                {
                    "version": _migrations.LATEST,
                    "description": "spark: " + ", ".join(tables),
                    "applied_at": now,
                },
            )

    def close(self) -> None:
        # Once per warehouse: a second close must not release another open's use.
        if self._base_session is not None:
            release_session(self._base_session)
            self._base_session = None


def _rollup_sql(where: str) -> str:
    """The rollup's SELECT (written for DuckDB in ``_schema.rollup_select``) as Spark SQL."""
    import sqlglot

    return str(sqlglot.transpile(rollup_select(where), read="duckdb", write="spark")[0])


def open_spark(target: SparkTarget, *, read_only: bool = False) -> SparkWarehouse:
    """Open (creating the database and tables if needed) the Spark warehouse at ``target``."""
    settings, url = target, target.url
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UnsupportedWarehouse(
            f"Warehouse URL {url!r} needs PySpark and Java 17+: pip install 'mlcost[spark]' "
            "and install a JRE (Debian: apt-get install default-jre-headless)."
        ) from None
    session = spark_session(settings)
    try:
        wh = SparkWarehouse(session, settings, read_only=read_only)
    except BaseException:
        release_session(session)
        raise
    if read_only:
        if not _database_exists(wh) or "ingests" not in wh.tables():
            wh.close()
            raise WarehouseError(
                f"No mlcost tables in Spark database {settings.database!r}. Load data first, "
                f"e.g. `mlcost --warehouse '{url}' ingest focus FILE`."
            )
        wh._session.catalog.setCurrentDatabase(settings.database)
    else:
        wh.create_schema()
        if wh.rollup() is None:
            wh.refresh_rollup()  # a refresh that failed or was cut off, or a new cost_daily
    return wh


def _database_exists(wh: SparkWarehouse) -> bool:
    return bool(wh._session.catalog.databaseExists(wh.settings.database))
