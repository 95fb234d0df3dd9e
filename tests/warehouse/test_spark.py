"""Spark warehouse URLs and what is refused before any JVM starts."""

from __future__ import annotations

import pytest

from mlcost import open_warehouse
from mlcost.errors import UnsupportedWarehouse
from mlcost.warehouse import parse_spark_url


@pytest.mark.parametrize(
    ("url", "master", "folder", "database", "fmt"),
    [
        ("spark://local[2]?warehouse_dir=/data/wh", "local[2]", "/data/wh", "mlcost", "parquet"),
        ("spark://local", "local", None, "mlcost", "parquet"),  # in-memory catalog
        (
            "spark://head:7077?database=finops&format=delta",
            "spark://head:7077",
            None,
            "finops",
            "delta",
        ),
        ("spark://local[*]?format=ICEBERG", "local[*]", None, "mlcost", "iceberg"),
    ],
)
def test_url_forms(url: str, master: str, folder: str | None, database: str, fmt: str) -> None:
    s = parse_spark_url(url)
    assert (s.master, s.warehouse_dir, s.database, s.table_format) == (
        master,
        folder,
        database,
        fmt,
    )


def test_spark_settings_pass_through() -> None:
    s = parse_spark_url("spark://local[2]?spark.driver.memory=4g&spark.sql.shuffle.partitions=2")
    assert s.conf == {"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "2"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("spark://", r"names no Spark master"),
        ("spark://local?memory=4g", r"unknown parameter\(s\) memory"),
        ("spark://local?format=orc", r"'orc' is not one of parquet, delta, iceberg"),
        ("spark://local?database=my-db", r"'my-db' is not a database name"),
    ],
)
def test_bad_urls_say_what_to_write(url: str, message: str) -> None:
    with pytest.raises(UnsupportedWarehouse, match=message):
        open_warehouse(url)
