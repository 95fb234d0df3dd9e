"""Other engines a user would point Ibis at: the spend queries compile to their SQL.

No connection is made (none of these engines runs here): Ibis compiles each expression for
the dialect, and sqlglot parses the result back in that dialect, so the SQL is at least
well formed there. What this does not show (results, types, speed) is listed in
docs/engines.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import ibis.common.exceptions as com
import ibis.expr.types as ir
import pytest
import sqlglot

from mlcost import open_warehouse, spend

DIALECTS = ("trino", "bigquery", "snowflake", "clickhouse", "databricks", "pyspark")


class SchemaOnly:
    """Stands in for a warehouse: tables with the canonical schema, bound to no engine."""

    def __init__(self) -> None:
        with open_warehouse("duckdb://:memory:") as wh:
            self.schemas = {n: wh.table(n).schema() for n in ("cost_line_items", "ingests")}

    def table(self, name: str) -> ir.Table:
        return ibis.table(self.schemas[name], name=name)

    def rollup(self) -> None:
        return None  # the line-item queries are what other engines run


REPORTS: dict[str, Callable[[Any], ir.Table]] = {
    "by provider": lambda wh: spend(wh, by=["ServiceProviderName"]),
    "by service and account, billed, one month": lambda wh: spend(
        wh,
        by=["ServiceName", "BillingAccountId"],
        metric="BilledCost",
        start="2026-05-01",
        end="2026-06-01",
    ),
    "by GPU model, list cost": lambda wh: spend(wh, by=["x_GpuModel"], metric="ListCost"),
    "by team tag": lambda wh: spend(wh, by=["tag:team|Team|team_name"]),
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("report", list(REPORTS))
def test_spend_compiles_for_each_engine(dialect: str, report: str) -> None:
    expr = REPORTS[report](SchemaOnly())
    if dialect == "bigquery" and "tag" in report:
        # BigQuery has no MAP type, so Ibis cannot look a key up in Tags; a BigQuery
        # warehouse would keep Tags as JSON (docs/engines.md).
        with pytest.raises(com.OperationNotDefinedError, match="MapGet"):
            ibis.to_sql(expr, dialect=dialect)
        return
    sql = str(ibis.to_sql(expr, dialect=dialect))
    parsed = sqlglot.parse_one(sql, read="spark" if dialect == "pyspark" else dialect)
    assert parsed.find(sqlglot.exp.Group) is not None
    assert "EffectiveCost" in sql or "BilledCost" in sql or "ListCost" in sql
