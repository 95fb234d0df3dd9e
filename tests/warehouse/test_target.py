"""The warehouse target, parsed once; the capabilities each engine declares; the general
operations the features' stores write through."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar

import pytest

from mlcost import open_warehouse
from mlcost.config import ChannelConfig, load_settings
from mlcost.errors import UnsupportedWarehouse, WarehouseError
from mlcost.insights import FindingStore, save_findings
from mlcost.notify import AlertStore, record_alerts
from mlcost.policies import AuditStore
from mlcost.server.auth import TokenStore
from mlcost.warehouse import (
    Capability,
    DuckDBTarget,
    DuckDBWarehouse,
    SparkTarget,
    SparkWarehouse,
    Warehouse,
    _migrations,
    parse_spark_url,
    parse_target,
    target_of,
)

STORES = (AlertStore, FindingStore, AuditStore, TokenStore)
_ALERT = {
    "alert_key": "budget|x|2026-05-01|actual|1",
    "source": "budget",
    "subject": "x",
    "kind": "actual",
    "message": "x spent 2.00 USD of 1.00 USD",
    "payload": "{}",
    "created_at": datetime(2026, 5, 2),
    "_channels": ["ops"],
}


def test_a_url_becomes_one_typed_target(tmp_path: Path) -> None:
    assert parse_target(f"duckdb://{tmp_path}/w.duckdb") == DuckDBTarget(f"{tmp_path}/w.duckdb")
    assert parse_target("duckdb://:memory:", memory_limit="2GB") == DuckDBTarget(":memory:", "2GB")
    spark = parse_target("spark://head:7077?database=finops&spark.driver.memory=4g")
    assert spark == SparkTarget(
        "spark://head:7077", None, "finops", "parquet", {"spark.driver.memory": "4g"}
    )
    # The URL a target gives back reads as the same target (messages and logs show it).
    for url in (
        "spark://local[2]?warehouse_dir=/srv/wh&database=finops&format=delta",
        "spark://head:7077",
    ):
        target = parse_spark_url(url)
        assert parse_spark_url(target.url) == target
    assert DuckDBTarget("/srv/w.duckdb").url == "duckdb:///srv/w.duckdb"
    with pytest.raises(UnsupportedWarehouse, match="duckdb:///path"):
        parse_target("postgres://db/finops")


def test_settings_give_the_target_with_their_memory_limit(tmp_path: Path) -> None:
    (tmp_path / "mlcost.toml").write_text('memory_limit = "512MB"\n')
    settings = load_settings(env={"HOME": str(tmp_path)}, cwd=tmp_path)
    target = target_of(settings)
    assert isinstance(target, DuckDBTarget) and target.memory_limit == "512MB"
    assert target.path == str(tmp_path / ".local/share/mlcost/warehouse.duckdb")
    (tmp_path / "mlcost.toml").write_text('[spark]\nmaster = "local[2]"\nwarehouse_dir = "wh"\n')
    target = target_of(load_settings(env={"HOME": str(tmp_path)}, cwd=tmp_path))
    assert target == SparkTarget("local[2]", str(tmp_path / "wh"))
    assert target.beside("watch.lock") == tmp_path / "wh" / "mlcost.watch.lock"


def test_open_warehouse_takes_the_target_and_its_memory_limit(tmp_path: Path) -> None:
    target = DuckDBTarget(str(tmp_path / "w.duckdb"), memory_limit="256MB")
    with open_warehouse(target) as wh:
        assert wh.target == target and wh.url == f"duckdb://{tmp_path}/w.duckdb"
        (limit,) = wh._sql("SELECT current_setting('memory_limit')")[0]
        assert limit in ("256.0 MiB", "244.1 MiB")  # DuckDB prints MB as MiB


def test_duckdb_and_spark_offer_every_capability(wh: Warehouse) -> None:
    assert wh.capabilities == frozenset(Capability)
    assert all(store.unavailable(wh) is None for store in STORES)
    assert SparkWarehouse.capabilities == frozenset(Capability)


class _Lacking(DuckDBWarehouse):
    """An engine that offers none of the optional operations (a future engine may not)."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset()


def test_a_store_refuses_an_engine_that_lacks_what_it_needs_before_it_writes() -> None:
    import ibis

    wh = _Lacking(ibis.duckdb.connect(), DuckDBTarget(":memory:"), read_only=False)
    try:
        _migrations.migrate(wh._raw)
        reasons = {store.feature: store.unavailable(wh) for store in STORES}
        assert reasons["alerts"] is not None and "keyed upsert, update where" in reasons["alerts"]
        assert (
            reasons["the guardrail audit"] is not None
            and "row writes" in reasons["the guardrail audit"]
        )
        with pytest.raises(WarehouseError, match="Alerts needs keyed upsert"):
            record_alerts(wh, [_ALERT], {})
        with pytest.raises(WarehouseError, match="Saving findings needs keyed upsert"):
            save_findings(wh, [])
        assert wh.table("alerts").count().execute() == 0
    finally:
        wh.close()


def test_general_operations_upsert_and_update_where(wh: Warehouse) -> None:
    row = {"token_id": "t1", "name": "a", "scopes": "admin", "secret_sha256": "x"}
    with wh.transaction():
        assert wh.insert_rows("api_tokens", [{**row, "created_at": datetime(2026, 1, 1)}]) == 1
        # A second row with the same key: skipped without update columns, replaced with them.
        again = {**row, "name": "b", "created_at": datetime(2026, 1, 2)}
        assert wh.upsert("api_tokens", [again], key=("token_id",)) == 0
        assert wh.upsert("api_tokens", [again], key=("token_id",), update=("name",)) == 1
        at = datetime(2026, 2, 1)
        # None in `where` is "is null": the first revocation matches, the second none.
        live = {"token_id": "t1", "revoked_at": None}
        assert wh.update_where("api_tokens", {"revoked_at": at}, live) == 1
        assert wh.update_where("api_tokens", {"revoked_at": at}, live) == 0
    stored = wh.table("api_tokens").to_pyarrow().to_pylist()
    assert [(r["name"], r["created_at"], r["revoked_at"]) for r in stored] == [
        ("b", datetime(2026, 1, 1), at)  # created_at was not in `update`: kept
    ]
    with pytest.raises(WarehouseError, match="bad table or column name"), wh.transaction():
        wh.update_where("api_tokens", {"name; drop": "x"}, {"token_id": "t1"})


@pytest.mark.spark
def test_every_store_runs_on_spark(spark_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import spark_url

    with open_warehouse(spark_url(spark_dir)) as wh:
        assert {store.feature: store.unavailable(wh) for store in STORES} == {
            store.feature: None for store in STORES
        }
        channel = ChannelConfig(name="ops", kind="file", path=str(tmp_path / "a.jsonl"))
        assert record_alerts(wh, [_ALERT], {"ops": channel}) == ["budget|x|2026-05-01|actual|1"]
        assert record_alerts(wh, [_ALERT], {"ops": channel}) == []  # recorded once
        assert save_findings(wh, []) == 0


@pytest.mark.parametrize(
    "under", ["a-file/w.duckdb", "a-file/deeper/w.duckdb", "a-dir", "/proc/w.duckdb"]
)
def test_a_warehouse_path_that_cannot_be_a_file_is_a_clear_error(
    tmp_path: Path, under: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-dir").mkdir()
    path = under if under.startswith("/") else str(tmp_path / under)
    with pytest.raises(WarehouseError) as info:
        open_warehouse(f"duckdb://{path}").close()
    assert path in str(info.value)
    assert (tmp_path / "a-file").read_text() == "not a folder"
