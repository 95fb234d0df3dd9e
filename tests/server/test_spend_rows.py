"""Issue 26 item 4: the server's spend questions answered by one parameterised query on the
daily rollup (``spending.spend_rows`` → ``Warehouse.daily_sums``) give exactly the rows of
``spend(...)``'s Ibis expression, in the same order, on the demo organization's bill."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from mlcost import open_warehouse, spend
from mlcost.spending import spend_rows
from tests.server.conftest import Demo

# Dimensions the rollup keeps (one spelled in lower case: named as asked) and two it does not.
ROLLUP = ("ServiceName", "RegionId", "SubAccountId", "x_GpuModel", "chargecategory")
WINDOWS = (
    (None, None),
    (date(2026, 5, 2), date(2026, 5, 7)),
    (None, date(2026, 5, 4)),
    (date(2026, 5, 9), None),
)


def test_rollup_answers_equal_the_expression(demo: Demo) -> None:
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        asked = 0
        for metric in ("EffectiveCost", "BilledCost", "ListCost", "ContractedCost"):
            for by in [(), *((d,) for d in ROLLUP), ("ServiceName", "RegionId")]:
                for start, end in WINDOWS:
                    expected = spend(wh, by, metric=metric, start=start, end=end)
                    rows = spend_rows(wh, by, metric=metric, start=start, end=end)
                    assert rows == expected.to_pyarrow().to_pylist(), (metric, by, start, end)
                    asked += 1
        # The rollup did answer them (not the fallback), and holds money to sum.
        keys = [("ServiceName", "ServiceName")]
        sums = wh.daily_sums(
            keys, "EffectiveCost", first_day=None, end_day=None, ingest_id=None, purchases=False
        )
        assert sums is not None and sum(r["EffectiveCost"] for r in sums) > 0
    assert asked == 4 * 7 * 4


def test_line_item_questions_compiled_once_per_shape_answer_each_window(demo: Demo) -> None:
    """A tag or a part day reads the line items: compiled once per shape of question and run
    with each question's own window, the rows equal the expression's for every window."""
    windows = (
        *WINDOWS,
        ("2026-05-02T12:00:00", None),
        ("2026-05-03", "2026-05-05T06:00:00"),
        (date(2026, 5, 4), date(2026, 5, 5)),
    )
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        for by in (["tag:team|Team"], ["tag:env", "ServiceName"], ["RegionId"]):
            for metric in ("EffectiveCost", "BilledCost"):
                answers = []
                for start, end in windows:
                    rows = spend_rows(wh, by, metric=metric, start=start, end=end)
                    expr = spend(wh, by, metric=metric, start=start, end=end, rollup=False)
                    assert rows == expr.to_pyarrow().to_pylist(), (by, metric, start, end)
                    answers.append(rows)
                assert len({repr(a) for a in answers}) > 1  # the windows do differ


def _tag_rollups(wh: object, of: object = None) -> list[str]:
    """The tag rollups the DuckDB open ``of`` (default ``wh``) keeps: the tables of its attached
    in-memory database, as ``wh`` sees them."""
    name = (of or wh)._tag_rollups.database  # type: ignore[attr-defined]
    rows = wh._sql(  # type: ignore[attr-defined]
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [name]
    )
    return sorted(r[0] for r in rows)


def test_two_read_only_opens_of_a_file_in_one_process_keep_their_own_tag_rollups(
    demo: Demo,
) -> None:
    """The server opens the file anew while the last open's requests finish, and DuckDB
    gives both opens one database instance: each builds and answers from its own rollups by
    tags (no "database … already exists"), and the first's go when it closes."""
    by, path = ["tag:env", "ServiceName"], demo.settings.warehouse
    expected = None
    with open_warehouse(path, read_only=True) as second:
        first = open_warehouse(path, read_only=True)
        for wh in (first, second):
            rows = spend_rows(wh, by, start=date(2026, 5, 2), end=date(2026, 5, 9))
            assert rows == (expected := expected or rows) and rows
            assert len(_tag_rollups(wh)) == 1
        assert len(_tag_rollups(second, of=first)) == 1  # one instance: both are seen
        first.close()
        assert _tag_rollups(second, of=first) == []
        assert spend_rows(second, by, start=date(2026, 5, 2), end=date(2026, 5, 9)) == expected
        assert len(_tag_rollups(second)) == 1


def test_tag_questions_on_a_read_only_open_read_a_rollup_by_those_tags(demo: Demo) -> None:
    """Questions by a tag (alone, with spellings, beside a column, two tags) over whole days
    are answered from a daily rollup by those tags, built once per set of tags and shared by
    the open's cursors: the same rows, in the same order, as the line items give."""
    questions = (
        ["tag:team|Team"],
        ["tag:env", "ServiceName"],
        ["RegionId", "tag:env"],
        ["tag:env", "tag:team|Team"],
    )
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        cursor = wh.cursor()  # type: ignore[attr-defined]
        for n, by in enumerate(questions):
            for metric in ("EffectiveCost", "BilledCost"):
                for start, end in WINDOWS:
                    asker = cursor if n % 2 else wh
                    rows = spend_rows(asker, by, metric=metric, start=start, end=end)
                    expr = spend(wh, by, metric=metric, start=start, end=end, rollup=False)
                    assert rows == expr.to_pyarrow().to_pylist(), (by, metric, start, end)
        # One per set of tags, whichever cursor asked: {team}, {env}, {env, team}.
        assert len(_tag_rollups(wh)) == 3
        cursor.close()


def test_tags_are_read_from_the_line_items_where_no_rollup_by_them_is_kept(
    demo: Demo, tmp_path: Path
) -> None:
    """A writable open keeps no rollup by tags (its data can change under it), and a tag
    with a value per line item would give a rollup as large as the line items: both are
    answered from the line items, with the same rows."""
    copy = tmp_path / "w.duckdb"
    shutil.copy(demo.folder / "warehouse.duckdb", copy)
    with open_warehouse(f"duckdb://{copy}") as wh:
        rows = spend_rows(wh, ["tag:env"], start=date(2026, 5, 2), end=date(2026, 5, 9))
        expr = spend(wh, ["tag:env"], start=date(2026, 5, 2), end=date(2026, 5, 9))
        assert rows == expr.to_pyarrow().to_pylist()
        assert _tag_rollups(wh) == []
        # Every line item its own tag value: no rollup by it is kept, the answer stands.
        with wh.transaction():
            wh._sql(  # type: ignore[attr-defined]
                "UPDATE cost_line_items SET Tags = CASE WHEN Tags IS NULL "
                "THEN MAP {'x_line': CAST(rowid AS VARCHAR)} "
                "ELSE map_concat(Tags, MAP {'x_line': CAST(rowid AS VARCHAR)}) END"
            )
    with open_warehouse(f"duckdb://{copy}", read_only=True) as wh:
        rows = spend_rows(wh, ["tag:x_line"], metric="BilledCost")
        expr = spend(wh, ["tag:x_line"], metric="BilledCost", rollup=False)
        assert rows == expr.to_pyarrow().to_pylist() and len(rows) > 1000
        assert _tag_rollups(wh) == []
