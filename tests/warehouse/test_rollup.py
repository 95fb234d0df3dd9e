"""The daily rollup (`cost_daily`): spend read from it equals spend read from the line items.

Every write to cost_line_items refreshes the rollup in the same transaction; these tests
change the line items in each way mlcost does (ingest, restatement, a second account, rows
written without an ingest, a failed load, an upgrade of a file that predates the rollup) and
compare the two readings of the same questions to the last decimal.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from mlcost import ingest_focus, open_warehouse, spend
from mlcost.errors import MlcostError
from mlcost.testing import focus_table, write_focus_file
from mlcost.warehouse import Warehouse
from tests.conftest import FOCUS_SAMPLES
from tests.sources.test_focus import SPEC_EFFECTIVE_COST

# The FOCUS 1.2 appendix's commitment examples that load (partial files: a few columns, no
# currency), as tests/sources/test_focus.py checks their EffectiveCost.
COMMITMENTS = [FOCUS_SAMPLES / "spec-examples-1.2" / name for name in SPEC_EFFECTIVE_COST]

# (by, start, end, metric): whole-day questions over rollup dimensions, which the rollup answers.
ROLLUP_QUESTIONS = [
    (["ServiceProviderName"], None, None, "EffectiveCost"),
    (["ServiceProviderName", "ServiceName"], None, None, "EffectiveCost"),
    (["BillingAccountId", "RegionId"], date(2026, 5, 3), date(2026, 5, 10), "BilledCost"),
    (["chargecategory"], "2026-05-02", datetime(2026, 5, 20), "ListCost"),  # case folded
    ([], None, None, "ContractedCost"),
    (["x_GpuModel", "PricingCategory"], date(2026, 5, 1), None, "EffectiveCost"),
]
# Questions the rollup cannot answer: a tag, a resource, a window that is not whole days.
LINE_ITEM_QUESTIONS = [
    (["tag:team"], None, None, "EffectiveCost"),
    (["ResourceId"], None, None, "EffectiveCost"),
    (["ServiceName"], datetime(2026, 5, 2, 6), None, "EffectiveCost"),
]


def bare_rows() -> pa.Table:
    """Seven May line items for account acct-9, as a tool writes them: no ingest id, no tags."""
    table = focus_table(7, account="acct-9").drop_columns(["Tags"])
    return table.rename_columns(
        ["ServiceProviderName" if c == "ProviderName" else c for c in table.column_names]
    )


def rows(expr: ibis.Table) -> list[dict[str, object]]:
    return sorted(expr.to_pyarrow().to_pylist(), key=repr)


def assert_rollup_agrees(wh: Warehouse) -> None:
    for by, start, end, metric in ROLLUP_QUESTIONS + LINE_ITEM_QUESTIONS:
        fast = spend(wh, by=by, start=start, end=end, metric=metric)
        exact = spend(wh, by=by, start=start, end=end, metric=metric, rollup=False)
        assert rows(fast) == rows(exact), (by, start, end, metric)


def reads(expr: ibis.Table) -> str:
    sql = str(ibis.to_sql(expr, dialect="duckdb"))
    return "cost_daily" if "cost_daily" in sql else "cost_line_items"


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    warehouse = open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}")
    ingest_focus(warehouse, [write_focus_file(tmp_path / "a.parquet", 5000)])
    ingest_focus(warehouse, [write_focus_file(tmp_path / "b.parquet", 3000, account="acct-2")])
    return warehouse


def test_the_rollup_answers_whole_day_questions_and_agrees(wh: Warehouse) -> None:
    for by, start, end, metric in ROLLUP_QUESTIONS:
        assert reads(spend(wh, by=by, start=start, end=end, metric=metric)) == "cost_daily"
    for by, start, end, metric in LINE_ITEM_QUESTIONS:
        assert reads(spend(wh, by=by, start=start, end=end, metric=metric)) == "cost_line_items"
    assert reads(spend(wh, rollup=False)) == "cost_line_items"
    # Far fewer rows than the bill: that is the point of it.
    assert wh.table("cost_daily").count().execute() < 8000 / 2
    assert_rollup_agrees(wh)


def test_restatement_and_per_ingest_questions_stay_right(wh: Warehouse, tmp_path: Path) -> None:
    # acct-1 re-issues May at twice the cost: its old rows go, in the rollup too.
    restated = write_focus_file(tmp_path / "a2.parquet", 4000, cost_scale=2.0)
    result = ingest_focus(wh, [restated])
    assert_rollup_agrees(wh)
    newest = spend(wh, by=["BillingAccountId"], ingest_id=result.ingest_id)
    assert reads(newest) == "cost_daily"
    assert rows(newest) == rows(
        spend(wh, by=["BillingAccountId"], ingest_id=result.ingest_id, rollup=False)
    )


def test_commitment_purchases_are_left_out_as_on_the_line_items(tmp_path: Path) -> None:
    wh = open_warehouse(f"duckdb://{tmp_path / 'c.duckdb'}")
    for path in COMMITMENTS:
        ingest_focus(wh, [path], allow_missing=True, currency="USD")
    purchases = wh.table("cost_daily").x_CommitmentPurchase.sum().execute()
    assert purchases > 0  # the spec's purchase rows are in the rollup, flagged
    assert_rollup_agrees(wh)


def test_rows_written_without_an_ingest_are_rolled_up(wh: Warehouse) -> None:
    extra = bare_rows()
    with wh.transaction():
        wh.insert_arrow("cost_line_items", extra)
    assert_rollup_agrees(wh)
    accounts = rows(spend(wh, by=["BillingAccountId"]))
    assert "acct-9" in {r["BillingAccountId"] for r in accounts}


def test_a_failed_write_leaves_rollup_and_line_items_as_they_were(wh: Warehouse) -> None:
    before = rows(spend(wh, by=["BillingAccountId"]))
    extra = bare_rows()

    def failing_load() -> None:
        with wh.transaction():
            wh.insert_arrow("cost_line_items", extra)
            raise MlcostError("the load failed half way")

    with pytest.raises(MlcostError, match="half way"):
        failing_load()
    assert rows(spend(wh, by=["BillingAccountId"])) == before
    assert_rollup_agrees(wh)


def test_a_file_from_before_the_rollup_gets_it_filled(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'old.duckdb'}"
    with open_warehouse(url, migrate_to=8) as old:
        ingest_focus(old, [write_focus_file(tmp_path / "a.parquet", 2000)])
        assert "cost_daily" not in old.tables()
        assert old.rollup() is None
        before = rows(spend(old, by=["ServiceName"]))
    with open_warehouse(url) as new:
        assert new.rollup() is not None
        assert rows(spend(new, by=["ServiceName"])) == before
        assert_rollup_agrees(new)


def test_timestamps_with_an_offset_read_the_line_items(wh: Warehouse) -> None:
    # Midnight in UTC+2 is 22:00 UTC the day before: not a whole UTC day.
    expr = spend(wh, by=["ServiceName"], start="2026-05-03T00:00:00+02:00")
    assert reads(expr) == "cost_line_items"
    assert reads(spend(wh, by=["ServiceName"], start=datetime(2026, 5, 3, tzinfo=UTC))) == (
        "cost_line_items"
    )


def test_a_refresh_that_fails_leaves_spend_right_and_is_redone_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    ingest_focus(wh, [write_focus_file(tmp_path / "a.parquet", 2000)])
    # The refresh runs after the load's COMMIT; here it fails the way an engine error would.
    import mlcost.warehouse._duckdb as engine

    monkeypatch.setattr(engine, "rollup_select", lambda where="": "SELECT no_such_column")
    ingest_focus(wh, [write_focus_file(tmp_path / "b.parquet", 1000, account="acct-2")])
    assert "could not be refreshed" in caplog.text
    assert wh.rollup() is None  # out of date, so not used
    expr = spend(wh, by=["BillingAccountId"])
    assert reads(expr) == "cost_line_items"
    assert {r["BillingAccountId"] for r in rows(expr)} == {"acct-1", "acct-2"}
    wh.close()
    monkeypatch.undo()
    with open_warehouse(url) as reopened:  # a writable open brings it up to date
        assert reopened.rollup() is not None
        assert_rollup_agrees(reopened)
