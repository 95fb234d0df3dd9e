"""The savings plan (issue 20) is one number everywhere: `mlcost insights --plan`, the API's
`/api/v1/insights/plan` and the weekly report show the same totals on the demo organization."""

from __future__ import annotations

import contextlib
import io
import json
from decimal import Decimal
from typing import Any

import pytest

from mlcost import open_warehouse
from mlcost.cli.main import main
from mlcost.report import weekly_report
from tests.server.conftest import Demo
from tests.server.test_api import get


@pytest.fixture(scope="module")
def cli_plan(demo: Demo) -> dict[str, Any]:
    """`mlcost insights --plan --format json` in the demo's folder (its mlcost.toml), without
    storing anything: the detectors run afresh on the warehouse the server reads."""
    mp = pytest.MonkeyPatch()
    mp.chdir(demo.folder)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = main(
                [
                    "--warehouse",
                    demo.settings.warehouse,
                    "insights",
                    "--plan",
                    "--no-save",
                    "--format",
                    "json",
                ]
            )
    finally:
        mp.undo()
    assert code == 0
    body: dict[str, Any] = json.loads(out.getvalue())
    return body


def _finding_ids(plan: dict[str, Any]) -> list[str]:
    return sorted(i for a in plan["actions"] for i in a["finding_ids"])


def test_the_api_shows_the_cli_plan(base_url: str, demo: Demo, cli_plan: dict[str, Any]) -> None:
    r = get(base_url, "/api/v1/insights/plan", demo.tokens["all"])
    assert r.status_code == 200, r.text
    api = r.json()
    assert cli_plan["recurring_monthly_saving"] > 0 and cli_plan["one_off_waste"] > 0
    for key in ("recurring_monthly_saving", "one_off_waste", "currency", "by_owner", "by_action"):
        assert api[key] == cli_plan[key], key
    assert _finding_ids(api) == _finding_ids(cli_plan)
    assert sorted(d["finding_id"] for d in api["dropped"]) == sorted(
        d["finding_id"] for d in cli_plan["dropped"]
    )


def test_a_team_token_sees_its_part_of_the_same_plan(
    base_url: str, demo: Demo, cli_plan: dict[str, Any]
) -> None:
    api = get(base_url, "/api/v1/insights/plan", demo.tokens["search"]).json()
    # The team's actions as resolved against the whole organization: never another owner's.
    assert {a["owner"] for a in api["actions"]} <= {"search"}
    expected = cli_plan["by_owner"].get("search", 0.0)
    assert api["recurring_monthly_saving"] == pytest.approx(expected, abs=0.005)


def test_the_weekly_report_totals_are_the_plan(demo: Demo, cli_plan: dict[str, Any]) -> None:
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        r = weekly_report(wh, demo.settings.attribution, rebuild=False)
    assert r.currency == cli_plan["currency"]
    assert r.insights_total == Decimal(str(cli_plan["recurring_monthly_saving"]))
    assert r.insights_one_off == Decimal(str(cli_plan["one_off_waste"]))
