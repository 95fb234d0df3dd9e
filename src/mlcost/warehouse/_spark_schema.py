"""The Spark tables' shapes: DuckDB's migrated schema as Spark column types, the tables
Spark keeps its own way (partitioned line items and allocations, the commit records)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from mlcost.errors import WarehouseError
from mlcost.warehouse import _migrations
from mlcost.warehouse._schema import FOCUS_COLUMNS, X_COLUMNS, Kind

# A restatement replaces one billing period of one billing account: the partition keys.
PARTITION_BY = ("BillingPeriodStart", "BillingAccountId")
SPARK_TYPES: dict[Kind, str] = {
    "string": "STRING",
    "decimal": "DECIMAL(38, 12)",
    # Spark's TIMESTAMP is an instant; the session time zone is UTC, so it reads as UTC wall
    # time, as DuckDB's TIMESTAMP does. Ibis maps both to a timestamp without zone.
    "timestamp": "TIMESTAMP",
    "json": "STRING",  # Spark has no JSON type
    "tags": "MAP<STRING, STRING>",
}
X_SPARK = {"VARCHAR": "STRING", "BIGINT": "BIGINT", "DECIMAL(18, 6)": "DECIMAL(18, 6)"}


def ddl_columns(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` {sql_type}" for name, sql_type in columns)


def cost_line_items_columns() -> list[tuple[str, str]]:
    """``cost_line_items`` as Spark columns: the partition keys last, as Spark stores them."""
    cols = [(c.name, SPARK_TYPES[c.kind]) for c in FOCUS_COLUMNS if c.name not in PARTITION_BY]
    cols += [(name, X_SPARK[sql_type]) for name, sql_type in X_COLUMNS]
    cols += [(name, sql_type) for name, sql_type in _migrations.TOKEN_COLUMNS]
    kinds = {c.name: c.kind for c in FOCUS_COLUMNS}
    return cols + [(name, SPARK_TYPES[kinds[name]]) for name in PARTITION_BY]


def allocated_costs_columns() -> list[tuple[str, str]]:
    """``allocated_costs``: ``cost_line_items``'s columns and attribution's, partition keys last."""
    # As on DuckDB, whose allocated_costs copied cost_line_items before the token columns.
    tokens = {name for name, _ in _migrations.TOKEN_COLUMNS}
    cols = [c for c in cost_line_items_columns() if c[0] not in tokens]
    extra = [(name, spark_type(sql_type)) for name, sql_type in _migrations.ALLOCATED_COLUMNS]
    return cols[: -len(PARTITION_BY)] + extra + cols[-len(PARTITION_BY) :]


# Written by partition: a restatement or a month of attribution rewrites only its partitions.
PARTITIONED = ("cost_line_items", "allocated_costs")
# Kept with the Spark types they were first created with (FOCUS kinds; TIMESTAMP is an
# instant read in the session's UTC); every other table takes its columns, in order, from the
# DuckDB schema the migrations build, so the two engines' tables cannot drift apart.
OWN_COLUMNS = ("cost_line_items", "allocated_costs", "ingests", "contract_commitments")


def spark_type(duckdb_type: str) -> str:
    import sqlglot

    if duckdb_type.upper() == "JSON":
        return "STRING"  # Spark has no JSON type
    return str(sqlglot.exp.DataType.build(duckdb_type, dialect="duckdb").sql("spark"))


@functools.cache
def duckdb_schema() -> dict[str, tuple[tuple[str, str, bool], ...]]:
    """Every table the DuckDB migrations create: (column, DuckDB type, nullable), in order.

    Read off an in-memory DuckDB migrated to the latest version, so ALTERs count too.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        _migrations.migrate(con)
        rows = con.execute(
            """SELECT table_name, column_name, data_type, is_nullable = 'YES'
               FROM information_schema.columns JOIN information_schema.tables
                 USING (table_catalog, table_schema, table_name)
               WHERE table_type = 'BASE TABLE' ORDER BY table_name, ordinal_position"""
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, sql_type, nullable in rows:
        out.setdefault(table, []).append((column, sql_type, bool(nullable)))
    return {table: tuple(columns) for table, columns in out.items()}


def duckdb_columns(table: str) -> list[tuple[str, str]]:
    """(name, Spark type) of each column of ``table`` as the DuckDB migrations create it."""
    found = duckdb_schema().get(table)
    if found is None:
        raise WarehouseError(f"no table {table} in the DuckDB migrations")
    return [(name, spark_type(sql_type)) for name, sql_type, _ in found]


def not_null(table: str) -> frozenset[str]:
    """The columns of ``table`` that the DuckDB schema declares NOT NULL."""
    return frozenset(c for c, _, nullable in duckdb_schema().get(table, ()) if not nullable)


INGESTS = (
    ("ingest_id", "BIGINT"),
    ("source", "STRING"),
    ("paths", "ARRAY<STRING>"),
    ("content_hash", "STRING"),
    ("focus_version", "STRING"),
    ("billing_accounts", "ARRAY<STRING>"),
    ("billing_periods", "ARRAY<TIMESTAMP>"),
    ("row_count", "BIGINT"),
    ("rows_replaced", "BIGINT"),
    ("warnings", "ARRAY<STRING>"),
    ("loaded_at", "TIMESTAMP"),
    ("dataset", "STRING"),
)
CONTRACT_COMMITMENTS = (
    *[
        (name, "STRING")
        for name in (
            "ContractId",
            "ContractCommitmentId",
            "ContractCommitmentType",
            "ContractCommitmentCategory",
            "ContractCommitmentDescription",
        )
    ],
    ("ContractCommitmentCost", "DECIMAL(38, 12)"),
    ("ContractCommitmentQuantity", "DECIMAL(38, 12)"),
    ("ContractCommitmentUnit", "STRING"),
    ("ContractCommitmentPeriodStart", "TIMESTAMP"),
    ("ContractCommitmentPeriodEnd", "TIMESTAMP"),
    ("ContractPeriodStart", "TIMESTAMP"),
    ("ContractPeriodEnd", "TIMESTAMP"),
    ("BillingCurrency", "STRING"),
    ("x_SourceId", "STRING"),
    ("x_IngestId", "BIGINT"),
)

SCHEMA_MIGRATIONS = (("version", "INT"), ("description", "STRING"), ("applied_at", "TIMESTAMP"))
