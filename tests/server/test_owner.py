"""``/api/v1/spend?by=owner``: attribution's owner model through the API, cut to a team."""

from __future__ import annotations

from decimal import Decimal

from mlcost import open_warehouse
from mlcost.attribution import showback
from mlcost.spending import total_by_currency
from tests.server.conftest import Demo
from tests.server.test_api import MONTH, amount, get


def test_spend_by_owner_is_showbacks_direct_and_sums_to_the_bill(base_url: str, demo: Demo) -> None:
    r = get(base_url, "/api/v1/spend?by=owner", demo.tokens["all"])
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        sb = showback(wh, demo.settings.attribution, MONTH, rebuild=False)
        bill = total_by_currency(wh)
    by_owner = {row["keys"]["owner"]: amount(row["cost"]) for row in rows}
    assert sum(by_owner.values()) == bill["USD"]
    for s in sb.statements:
        if s.owner != "(unallocated)":
            assert abs(by_owner[s.owner] - s.direct) < Decimal("0.01"), s.owner
    assert {"(shared)", "(unallocated)"} <= set(by_owner)


def test_a_team_token_by_owner_sees_its_owner_and_one_aggregate(base_url: str, demo: Demo) -> None:
    everyone = get(base_url, "/api/v1/spend?by=owner", demo.tokens["all"]).json()
    mine = get(base_url, "/api/v1/spend?by=owner", demo.tokens["search"]).json()
    own = [row for row in mine["rows"] if not row["other_teams"]]
    other = [row for row in mine["rows"] if row["other_teams"]]
    assert [row["keys"]["owner"] for row in own] == ["search"]
    search = next(row for row in everyone["rows"] if row["keys"]["owner"] == "search")
    assert own[0]["cost"] == search["cost"] and len(other) == 1
    assert mine["totals"] == everyone["totals"]
