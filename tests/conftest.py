"""Shared fixtures: the test data folder, a fresh warehouse per test, one Spark session."""

from __future__ import annotations

import gc
import importlib.util
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlcost import Warehouse, open_warehouse

REPO = Path(__file__).resolve().parents[1]
# Public sample files the tests read, copied into the repository (tests/data/*/SOURCES.md says
# where each comes from and under which licence): a clone alone runs the whole suite.
DATA = REPO / "tests" / "data"
FOCUS_SAMPLES = DATA / "focus-samples"


def data_files(folder: Path, pattern: str = "*.csv") -> list[Path]:
    """The files of a test data folder, sorted; a missing or empty folder fails the run (a
    parametrized test over no files would otherwise pass without checking anything)."""
    files = sorted(folder.glob(pattern))
    if not files:
        raise FileNotFoundError(
            f"no {pattern} in {folder}: the test data is missing from tests/data"
        )
    return files


@pytest.fixture
def wh_url(tmp_path: Path) -> str:
    return f"duckdb://{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def wh(wh_url: str) -> Iterator[Warehouse]:
    with open_warehouse(wh_url) as warehouse:
        yield warehouse


def spark_missing() -> str | None:
    """Why local Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'mlcost[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime (make tools installs default-jre-headless when run as root)"
    return None


@pytest.fixture(scope="session")
def spark_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local Spark session for the whole run (starting a JVM and its metastore costs
    ~20 s); every Spark warehouse of the run keeps its tables under this folder."""
    reason = spark_missing()
    if reason:
        pytest.skip(reason)
    from mlcost.warehouse import parse_spark_url
    from mlcost.warehouse._spark import release_session, spark_session

    folder = tmp_path_factory.mktemp("spark")
    session = spark_session(parse_spark_url(f"spark://local[2]?warehouse_dir={folder}"))
    yield folder
    release_session(session)  # the last user: stops the context
    gc.collect()  # PySpark's result sockets are reported now, inside a Spark test's filters


_databases = itertools.count(1)

# PySpark reads query results over loopback sockets that it leaves for the garbage collector
# to close (pyspark 4.0, _load_from_socket); those, and only those, are not our leak.
PYSPARK_SOCKETS = (
    r"ignore:Exception ignored in. <socket.socket fd=\d+, family=2, type=1, proto=6, "
    r"laddr=\('127.0.0.1':pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.filterwarnings(PYSPARK_SOCKETS))


def spark_url(folder: Path) -> str:
    """A fresh database in the run's Spark warehouse folder."""
    return f"spark://local[2]?warehouse_dir={folder}&database=test_{next(_databases)}"


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty warehouse URL on each engine: a DuckDB file, a Spark database."""
    if request.param == "duckdb":
        return f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    return spark_url(request.getfixturevalue("spark_dir"))


def snapshot(warehouse: Warehouse) -> tuple[object, ...]:
    """Everything a failed ingest must leave unchanged: row counts and a content checksum."""
    items = warehouse.table("cost_line_items")
    ingests = warehouse.table("ingests")
    checksum = items.EffectiveCost.sum().execute() if items.count().execute() else None
    return (
        items.count().execute(),
        checksum,
        ingests.count().execute(),
        tuple(items.columns),
    )
