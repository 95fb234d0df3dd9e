"""Opening warehouses: URLs, migrations of older files, locks, read-only, newer files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mlcost import ingest_focus, open_warehouse, spend
from mlcost.errors import UnsupportedWarehouse, WarehouseError, WarehouseLocked, WarehouseTooNew
from mlcost.testing import write_focus_file
from mlcost.warehouse import SCHEMA_VERSION, parse_url
from tests.holding import holding


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("duckdb:///abs/dir/w.duckdb", "/abs/dir/w.duckdb"),  # three slashes: absolute
        ("duckdb://rel/w.duckdb", "rel/w.duckdb"),  # two slashes: relative
        ("duckdb://:memory:", ":memory:"),
        ("plain/file.duckdb", "plain/file.duckdb"),  # a bare path is a DuckDB file
    ],
)
def test_url_forms(url: str, path: str) -> None:
    assert parse_url(url) == path


def test_other_engines_are_refused_with_the_way_out() -> None:
    with pytest.raises(UnsupportedWarehouse, match=r"duckdb:///path"):
        open_warehouse("postgres://localhost/db")


def test_a_new_file_is_created_at_the_latest_schema(tmp_path: Path) -> None:
    with open_warehouse(str(tmp_path / "sub" / "new.duckdb")) as wh:
        assert wh.schema_version == SCHEMA_VERSION
        assert {"cost_line_items", "ingests", "contract_commitments"} <= set(wh.tables())


def test_an_older_file_upgrades_and_keeps_its_data(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'old.duckdb'}"
    # A warehouse written by the first release (schema version 1), with data in it.
    with open_warehouse(url, migrate_to=1) as old:
        assert old.schema_version == 1
        assert "contract_commitments" not in old.tables()
        assert "dataset" not in old.columns("ingests")
        old._sql(
            "INSERT INTO ingests VALUES (1, 'focus', ['x.csv'], 'h', '1.2', ['A'], [], 0, 0, [], now())"
        )
    with open_warehouse(url) as new:
        assert new.schema_version == SCHEMA_VERSION
        assert "contract_commitments" in new.tables()
        rows = new.table("ingests").to_pyarrow().to_pylist()
        assert rows[0]["content_hash"] == "h"
        assert rows[0]["dataset"] == "CostAndUsage"  # the new column's default for old rows


def test_a_file_from_a_newer_mlcost_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    with open_warehouse(str(path)) as wh:
        wh._sql("INSERT INTO schema_migrations VALUES (999, 'from the future', now())")
    before = path.read_bytes()
    with pytest.raises(WarehouseTooNew, match="Upgrade mlcost"):
        open_warehouse(str(path))
    assert path.read_bytes() == before


def test_read_only_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="mlcost ingest focus"):
        open_warehouse(str(tmp_path / "missing.duckdb"), read_only=True)


def test_read_only_reads_but_does_not_write(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with open_warehouse(str(path)) as wh:
        ingest_focus(wh, [write_focus_file(tmp_path / "a.parquet", 10)])
    with open_warehouse(str(path), read_only=True) as ro:
        assert spend(ro, by=[]).to_pyarrow().num_rows == 1
        with pytest.raises(WarehouseError, match="read-only"):
            ingest_focus(ro, [write_focus_file(tmp_path / "b.parquet", 10, account="other")])


def test_a_second_writer_gets_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLCOST_LOCK_WAIT", "0.5")  # a short wait, then the error
    path = tmp_path / "busy.duckdb"
    with holding(path) as holder:
        expected = rf"process {holder.pid} .*MLCOST_LOCK_WAIT"
        with pytest.raises(WarehouseLocked, match=expected):
            open_warehouse(str(path))


def test_memory_limit_is_applied_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    from mlcost.errors import ConfigError

    with open_warehouse(str(tmp_path / "m.duckdb"), memory_limit="512MB") as wh:
        (limit,) = wh._sql("SELECT current_setting('memory_limit')")[0]
        assert str(limit).replace(" ", "").upper().startswith(("488", "512"))  # MiB vs MB
    with pytest.raises(ConfigError, match="'lots'"):
        open_warehouse(str(tmp_path / "m.duckdb"), memory_limit="lots")


def test_running_out_of_memory_says_what_to_change(tmp_path: Path) -> None:
    # A list aggregate cannot spill: 20 M integers need more than 20 MB. The error on its way
    # out is DuckDB's, not the aborted transaction's refusal to drop the temporary table.
    wh = open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}", memory_limit="20MB")
    with (
        wh,
        pytest.raises(WarehouseError, match=r"memory_limit is 20MB.*w\.duckdb\.tmp"),
        wh.transaction(),
        wh.temporary(wh.table("ingests")),
    ):
        # What insert() runs its INSERT … SELECT with.
        wh._run_with_progress(
            "CREATE TEMP TABLE t AS SELECT list(range) FROM range(20000000)", None
        )


def test_a_writer_waits_for_a_reader_and_says_who_holds_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.duckdb"
    open_warehouse(str(path)).close()
    with holding(path, read_only=True) as reader:
        # No wait: the writer fails at once, naming the holder's PID and the setting.
        monkeypatch.setenv("MLCOST_LOCK_WAIT", "0")
        with pytest.raises(WarehouseLocked, match=f"process {reader.pid} "):
            open_warehouse(str(path))
        # With a wait, the writer gets the file once the reader lets go.
        monkeypatch.setenv("MLCOST_LOCK_WAIT", "120")
        assert reader.stdin is not None
        threading.Timer(0.5, reader.stdin.close).start()
        with open_warehouse(str(path)) as wh:
            wh._sql("CREATE TABLE after_wait AS SELECT 1 AS x")
            assert "after_wait" in wh.tables()


def test_lock_wait_must_be_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcost.errors import ConfigError

    monkeypatch.setenv("MLCOST_LOCK_WAIT", "soon")
    with pytest.raises(ConfigError, match="MLCOST_LOCK_WAIT"):
        open_warehouse(str(tmp_path / "w.duckdb"))


def test_a_load_killed_mid_write_leaves_no_lasting_bloat(tmp_path: Path) -> None:
    # Issue 22: a load killed with SIGKILL leaves the blocks it wrote in the file, untracked
    # (DuckDB reuses them, never gives them back). The next writable open copies the
    # warehouse into a fresh file; what was committed before the kill is all still there.
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "w.duckdb"
    with open_warehouse(str(path)) as wh:
        ingest_focus(wh, [write_focus_file(tmp_path / "kept.parquet", 200)])
        kept = spend(wh, by=[]).to_pyarrow().to_pylist()
    clean = path.stat().st_size
    big = write_focus_file(tmp_path / "big.parquet", 1_500_000, account="other")
    code = (
        "import sys; from mlcost import open_warehouse, ingest_focus\n"
        "with open_warehouse(sys.argv[1]) as wh: ingest_focus(wh, [sys.argv[2]])\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(path), str(big)])
    deadline = time.monotonic() + 300
    while path.stat().st_size < clean + 40 * 2**20:  # the load has written its blocks
        assert child.poll() is None, "the load ended before it could be killed"
        assert time.monotonic() < deadline, "the load wrote nothing to the file"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    bloated = path.stat().st_size
    with open_warehouse(str(path)) as wh:
        assert spend(wh, by=[]).to_pyarrow().to_pylist() == kept
    assert path.stat().st_size < bloated / 2
    assert path.stat().st_size <= clean + 4 * 2**20
