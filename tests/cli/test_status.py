"""`mlcost status`: what the warehouse holds, what is configured, what to run next."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcost import open_warehouse
from mlcost.cli.main import main
from mlcost.demo._config import demo_policies


def test_status_json_on_the_demo_lists_sources_ranges_and_configuration(
    in_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["warehouse"]["exists"] and body["warehouse"]["engine"] == "duckdb"
    assert body["warehouse"]["url"].endswith(f"{in_demo.name}/warehouse.duckdb")
    # Sources: the bill and each telemetry or workload format the demo writes.
    loaded = {s["source"]: s for s in body["sources"]}
    assert {"focus", "nvidia-smi", "prometheus", "slurm", "tracker", "opencost"} <= set(loaded)
    # (Other tests of the run load the demo's files again: at least one load each.)
    assert all(s["loads"] >= 1 and s["rows"] > 0 and s["last_load"] for s in loaded.values())
    # Ranges: the demo's bill covers May 2026 (charges from 2026-05-01), 7 days of telemetry.
    data = {d["table"]: d for d in body["data"]}
    bill = data["cost_line_items"]
    with open_warehouse(f"duckdb://{in_demo / 'warehouse.duckdb'}", read_only=True) as wh:
        assert bill["rows"] == wh.table("cost_line_items").count().execute() > 0
    assert bill["currencies"] == ["USD"]
    assert bill["from"].startswith("2026-05-01")
    gpu = data["gpu_samples"]
    assert gpu["from"].startswith("2026-05-01") and gpu["to"].startswith("2026-05-07")
    # Configuration: the demo's owner key, its four budgets and the policy added to it.
    config = body["config"]
    assert config["owner_key"] == "team" and "mlcost.toml" in config["owner_key_from"]
    assert {b["name"] for b in config["budgets"]} == {
        "llm-platform",
        "vision",
        "recommendations",
        "search",
    }
    assert all(b["currency"] == "USD" and b["amount"] > 0 for b in config["budgets"])
    # The policies the demo's mlcost.toml declares (idle off hours, max duration, GPU cap, tags).
    declared = [{"name": p.name, "kind": p.kind} for p in demo_policies()[0]]
    assert config["policies"] == declared and len(declared) >= 4
    assert [c["kind"] for c in config["channels"]] == ["file"]
    assert config["spark"] is False
    assert 0.5 < body["owner_key_share"] <= 1
    # Nothing the demo has is reported missing.
    assert not [n for n in body["next"] if "bill" in n["missing"] or "telemetry" in n["missing"]]


def test_status_without_a_warehouse_says_what_to_run_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("MLCOST_WAREHOUSE", "MLCOST_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    db = tmp_path / "none.duckdb"
    assert main(["--warehouse", str(db), "status"]) == 0
    out = capsys.readouterr().out
    assert "(not created yet)" in out
    assert "a bill: mlcost ingest focus EXPORT/" in out
    assert "budgets: add [budgets.NAME] to mlcost.toml" in out
    assert not db.exists()
