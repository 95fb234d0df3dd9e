"""Issue 26 item 4: the server's spend questions answered by one parameterised query on the
daily rollup (``spending.spend_rows`` → ``Warehouse.daily_sums``) give exactly the rows of
``spend(...)``'s Ibis expression, in the same order, on the demo organization's bill."""

from __future__ import annotations

from datetime import date

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
