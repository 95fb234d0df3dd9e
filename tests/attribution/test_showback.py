"""`mlcost showback`, `mlcost tags audit`, `mlcost export focus` and drill-down."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.attribution import drill_down
from mlcost.attribution.export import focus_columns
from mlcost.cli.main import cli
from tests.attribution.conftest import MONTH, line, put, sample, workload

RULES = """
[attribution]
[[attribution.shared]]
name = "support"
match = { ServiceName = "Support" }
method = "proportional"
"""


def _org(tmp_path: Path) -> str:
    # A GPU node search's pod half-used for an hour (8.00), vision's storage (4.00),
    # support (2.40) shared by direct cost, and an untagged 1.00.
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    with open_warehouse(url) as wh:
        put(
            wh,
            "cost_line_items",
            [
                line("8.00", resource="node", gpus=1, tags={"team": "search"}),
                line("4.00", resource="bucket", tags={"team": "vision"}),
                line("2.40", ServiceName="Support"),
                line("1.00", resource="stray"),
            ],
        )
        put(wh, "workloads", [workload("opencost:web", "node", 0, 1, 1, requests=16000.0)])
        put(wh, "gpu_samples", [sample("node", 0.5, 0.5, pod="web")])
    (tmp_path / "mlcost.toml").write_text(RULES)
    return url


def test_showback_json_reconciles_and_writes_csv_and_html(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _org(tmp_path)
    monkeypatch.chdir(tmp_path)  # mlcost.toml with the shared rule
    r = CliRunner().invoke(
        cli,
        [
            "--warehouse",
            url,
            "showback",
            "--month",
            MONTH,
            "--format",
            "json",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = {s["owner"]: s for s in json.loads(r.output)}
    search, vision, none = rows["search"], rows["vision"], rows["(unallocated)"]
    assert (search["direct"], search["gpu_used"], search["gpu_idle"]) == (8.0, 4.0, 4.0)
    assert (search["shared"], vision["shared"]) == (1.6, 0.8)  # 2.40 split 8:4
    assert (none["unallocated"], none["total"]) == (1.0, 1.0)
    assert all(s["currency"] == "USD" for s in rows.values())
    assert round(sum(s["total"] for s in rows.values()), 2) == 15.40  # the whole bill
    with (tmp_path / "out" / f"showback-{MONTH}.csv").open() as fh:
        assert {row["owner"] for row in csv.DictReader(fh)} == set(rows)
    page = (tmp_path / "out" / f"showback-{MONTH}.html").read_text()
    assert "You paid 8.00 USD for GPUs, 4.00 USD of it idle" in page and "Balanced." in page


def test_drill_down_returns_line_items_workloads_and_telemetry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _org(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert (
        CliRunner().invoke(cli, ["--warehouse", url, "showback", "--month", MONTH]).exit_code == 0
    )
    with open_warehouse(url, read_only=True) as wh:
        cell = drill_down(wh, MONTH, owner="search", column="gpu_idle")
        assert cell["line_items"].EffectiveCost.sum().execute() == 4
        assert cell["workloads"].workload_id.execute().tolist() == ["opencost:web"]
        assert cell["telemetry"].count().execute() == 1


def test_tags_audit_and_focus_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _org(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    audit = runner.invoke(cli, ["--warehouse", url, "tags", "audit", "--format", "json"])
    assert audit.exit_code == 0, audit.output
    found = [(r["resource"], r["status"], r["missing"]) for r in json.loads(audit.output)]
    assert found == [
        ("node", "non-compliant", "project, model, env"),  # 8.00, worst first
        ("bucket", "non-compliant", "project, model, env"),
        ("(no resource)", "untagged", "project, team, model, env"),  # the support charge
        ("stray", "untagged", "project, team, model, env"),
    ]
    assert runner.invoke(cli, ["--warehouse", url, "showback", "--month", MONTH]).exit_code == 0
    out = tmp_path / "focus.csv"
    done = runner.invoke(cli, ["--warehouse", url, "export", "focus", "--version", "1.3", str(out)])
    assert done.exit_code == 0, done.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert set(focus_columns("1.3")) <= set(rows[0]) and "InvoiceDetailId" not in rows[0]
    split = [r for r in rows if r["AllocatedMethodId"]]
    details = json.loads(split[0]["AllocatedMethodDetails"])
    assert "AllocatedRatio" in details["Elements"][0]
    ratios: dict[tuple[str, str], float] = {}
    for r in split:
        key = (r["x_OriginRow"], r["AllocatedMethodId"].split("/")[1])
        ratios[key] = (
            ratios.get(key, 0.0)
            + json.loads(r["AllocatedMethodDetails"])["Elements"][0]["AllocatedRatio"]
        )
    assert all(abs(v - 1.0) < 1e-9 for v in ratios.values())  # FOCUS: ratios of an origin sum to 1
    assert round(sum(float(r["BilledCost"]) for r in rows), 2) == 15.40
