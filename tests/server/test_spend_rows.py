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


def test_tags_and_part_days_still_read_the_line_items(demo: Demo) -> None:
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        for by, start in ((["tag:team|Team"], None), (["ServiceName"], "2026-05-02T12:00:00")):
            rows = spend_rows(wh, by, metric="EffectiveCost", start=start)
            expected = spend(wh, by, start=start, rollup=False).to_pyarrow().to_pylist()
            assert rows == expected and rows
