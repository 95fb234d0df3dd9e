"""Two kinds of money (issue 20): a recurring monthly saving, or money already spent once;
no total adds the one into the other. Stored findings that no longer hold are closed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost import Warehouse, open_warehouse
from mlcost.cli.main import main
from mlcost.insights import load_findings, run_insights, save_findings
from tests.insights.test_registry import _notebook
from tests.insights.test_runaway import _family


def _both(tmp_path: Path) -> Path:
    """A warehouse file with the notebook (recurring idle) and the 60-hour runaway."""
    db = tmp_path / "w.duckdb"
    with open_warehouse(f"duckdb://{db}") as wh:
        _notebook(wh)
        _family(wh, 60)
    return db


def test_one_off_waste_is_apart_from_the_monthly_saving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A notebook idle nights and weekends (recurring) and a 60-hour run in a family of
    # 11-hour runs (a runaway: its 49 hours are spent, they do not come back next month).
    db = _both(tmp_path)
    assert main(["--warehouse", str(db), "insights", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["findings"]
    runaway = [r for r in rows if r["kind"] == "runaway"]
    recurring = [r for r in rows if r["saving_type"] == "recurring"]
    assert len(runaway) == 1 and recurring
    [r] = runaway
    assert r["saving_type"] == "one_off" and r["monthly_saving"] is None
    assert r["one_off_waste"]["expected"] == r["evidence"]["window_waste"] == 49 * 4.0
    assert "duration guard" in r["action"]  # the guard that prevents the next one
    assert all(x["one_off_waste"] is None for x in recurring)

    assert main(["--warehouse", str(db), "insights", "--no-save"]) == 0
    out = capsys.readouterr().out
    monthly = sum(Decimal(str(x["monthly_saving"]["expected"])) for x in recurring)
    assert f"{monthly:,.2f} USD a month recurring" in out
    assert f"{Decimal(str(r['one_off_waste']['expected'])):,.2f} USD one-off waste" in out


def test_a_finding_that_no_longer_holds_is_closed_and_reopened(wh: Warehouse) -> None:
    _notebook(wh)
    _family(wh, 60)
    found = run_insights(wh)
    kinds = {f.kind for f in found}
    assert {"runaway", "idle_gpu"} <= kinds
    save_findings(wh, found, ran=kinds)
    first_seen = {
        r["id"]: r["first_seen"] for r in wh.table("recommendations").to_pyarrow().to_pylist()
    }
    # A later run no longer finds the runaway (say, its run was fixed): it is closed, its row
    # kept; the open findings are the others.
    gone = next(f for f in found if f.kind == "runaway")
    save_findings(wh, [f for f in found if f is not gone], ran=kinds)
    assert gone.id not in {f.id for f in load_findings(wh)}
    closed = {f.id for f in load_findings(wh, include_closed=True)} - {
        f.id for f in load_findings(wh)
    }
    assert closed == {gone.id}
    t = wh.table("recommendations")
    assert t.count().execute() == len(found)  # history kept
    # A run limited to other kinds closes nothing of the runaway's kind ...
    save_findings(wh, [], ran=["data_transfer"])
    assert len(load_findings(wh)) == len(found) - 1
    # ... and when the runaway comes back it is reopened with its first_seen kept.
    save_findings(wh, found, ran=kinds)
    rows = {r["id"]: r for r in wh.table("recommendations").to_pyarrow().to_pylist()}
    assert rows[gone.id]["closed_at"] is None
    assert rows[gone.id]["first_seen"] == first_seen[gone.id]
    assert rows[gone.id]["saving_type"] == "one_off"
    assert {f.id for f in load_findings(wh)} == {f.id for f in found}


def test_plan_json_keeps_one_off_waste_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The notebook idle nights and weekends and the runaway: one stop action, the runaway's
    # money apart; the plan's recurring total is the notebook's idle saving.
    db = _both(tmp_path)
    assert main(["--warehouse", str(db), "insights", "--format", "json", "--no-save"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert main(["--warehouse", str(db), "insights", "--plan", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["currency"] == "USD"
    [runaway] = [f for f in findings if f["kind"] == "runaway"]
    assert plan["one_off_waste"] == runaway["one_off_waste"]["expected"]
    [idle] = [f for f in findings if f["kind"] == "idle_gpu"]
    [stop] = [a for a in plan["actions"] if idle["id"] in a["finding_ids"]]
    assert stop["action"] == "stop" and stop["resource_id"] == "nb-1"
    assert stop["monthly_saving"]["expected"] == idle["monthly_saving"]["expected"]
    total = sum(a["monthly_saving"]["expected"] for a in plan["actions"])
    assert plan["recurring_monthly_saving"] == pytest.approx(total, abs=0.01)
    assert main(["--warehouse", str(db), "insights", "--plan", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert f"Recurring: {Decimal(str(total)):,.2f} USD a month without overlap" in out
