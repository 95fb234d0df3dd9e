"""`mlcost demo` and `mlcost demo generate` run end to end on a tiny organization."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcost.cli.main import cli


def test_generate_writes_the_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "generate", "--out", str(tmp_path), "--days", "1", "--scale", "0.2"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ground_truth.json").exists()
    assert sorted(p.name for p in (tmp_path / "billing").iterdir()) == [
        "aws-focus-1.2.csv",
        "azure-focus-1.3.csv",
        "gcp-focus-1.0.csv",
    ]


def test_demo_prints_spend_by_team_and_reuses_the_folder(tmp_path: Path) -> None:
    args = ["demo", "--out", str(tmp_path), "--days", "1", "--scale", "0.2", "--format", "json"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    teams = {r["team"] for r in json.loads(first.output)}
    assert {"search", "vision", "(untagged)"} <= teams
    stamp = (tmp_path / "manifest.json").stat().st_mtime_ns
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0
    assert again.output == first.output
    assert (tmp_path / "manifest.json").stat().st_mtime_ns == stamp  # reused, not rewritten


@pytest.mark.slow
def test_default_demo_shows_budgets_and_writes_crossed_alerts_to_the_file_channel(
    tmp_path: Path,
) -> None:
    # The default organization (30 days): budgets sized so some thresholds are crossed.
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Monthly budgets (USD" in result.output
    alerts = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert alerts and all(a["currency"] == "USD" for a in alerts)
    assert {a["budget"] for a in alerts} >= {"recommendations", "vision"}
    assert f"{len(alerts)} alert(s) written" in result.output
