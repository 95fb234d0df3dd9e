"""Running the detectors, stable ids, the recommendations table, and the JSON form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcost import Warehouse, open_warehouse
from mlcost.cli.main import main
from mlcost.errors import UnknownName
from mlcost.insights import DETECTORS, KINDS, load_findings, run_insights, save_findings
from mlcost.insights.idle import is_work_hour
from tests.insights.conftest import gpu_host, hour, put


def _notebook(wh: Warehouse) -> None:
    # Two weeks of a notebook busy only in working hours (the nights-and-weekends finding).
    b, s = gpu_host(
        "nb-1",
        range(14 * 24),
        1.0,
        lambda q: 0.5 if is_work_hour(hour(q / 4)) else 0.0,
    )
    put(wh, "cost_line_items", b)
    put(wh, "gpu_samples", s)


def test_every_detector_kind_is_a_json_kind() -> None:
    from mlcost.cli.insights import KIND_CHOICES

    # Every kind the issue lists has its detector, and `mlcost insights --kind` offers each.
    assert set(DETECTORS) == set(KINDS) == set(KIND_CHOICES)


def test_unknown_kind_names_the_nearest() -> None:
    with open_warehouse("duckdb://:memory:") as wh, pytest.raises(UnknownName, match="idle_gpu"):
        run_insights(wh, kinds=["idle_gpus"])


def test_ids_are_stable_and_reruns_update_rows(wh: Warehouse) -> None:
    _notebook(wh)
    first = run_insights(wh)
    second = run_insights(wh)
    assert [f.id for f in first] == [f.id for f in second] and first
    save_findings(wh, first)
    seen = wh.table("recommendations").first_seen.min().execute()
    save_findings(wh, second)
    t = wh.table("recommendations")
    assert t.count().execute() == len(first)
    assert t.first_seen.min().execute() == seen  # kept; last_seen moves
    assert t.last_seen.max().execute() >= seen
    stored = load_findings(wh)
    assert [f.id for f in stored] == [f.id for f in first]  # updated, not duplicated
    assert stored[0].monthly_saving == first[0].monthly_saving
    assert stored[0].evidence == first[0].evidence


def test_cli_json_has_the_documented_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.duckdb"
    with open_warehouse(f"duckdb://{db}") as wh:
        _notebook(wh)
    assert main(["--warehouse", str(db), "insights", "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    # The run: the window read, the detectors run and skipped (this warehouse has telemetry
    # but no workload records: spot reads the bill's tags instead), and the findings.
    assert body["window"] == {"start": "2026-10-01T00:00:00Z", "end": "2026-10-15T00:00:00Z"}
    assert {s["detector"] for s in body["skipped"]} == {"early_stop", "runaway"}
    assert "idle_gpu" in body["ran"] and body["empty_reason"] is None
    rows = body["findings"]
    assert rows and set(rows[0]) >= {
        "id",
        "kind",
        "resource_id",
        "owner",
        "saving_type",
        "monthly_saving",
        "one_off_waste",
        "action",
        "evidence",
    }
    assert rows[0]["saving_type"] == "recurring" and rows[0]["one_off_waste"] is None
    assert set(rows[0]["monthly_saving"]) == {"low", "expected", "high", "currency", "range"}
    assert "idle runs" in rows[0]["monthly_saving"]["range"]  # what low and high are
    # --min-saving drops findings under the floor; --owner keeps one owner.
    assert (
        main(["--warehouse", str(db), "insights", "--format", "json", "--min-saving", "1e9"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["findings"] == []
    assert main(["--warehouse", str(db), "insights", "--format", "json", "--owner", "x"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
    assert main(["--warehouse", str(db), "insights"]) == 0
    assert "a month recurring" in capsys.readouterr().out
