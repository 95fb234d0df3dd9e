"""`mlcost demo` declares the seed's guardrails and prints what they would do; then
`mlcost policies check` names the forgotten dev instance by its billed id and no production
resource (issue 21 item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.cli.main import cli


def test_demo_prints_its_guardrails_and_check_lists_the_forgotten_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["demo", "--out", str(tmp_path), "--days", "7", "--scale", "0.5"]
    shown = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("Guardrails (dry run"))
    said = "\n".join(lines[at : at + 5])
    for name in ("idle-off-hours", "training-max-duration", "gpu-cap", "required-tags"):
        assert f"  {name}: " in said
    assert "(stop after 24 h notice)" in said and "vision-dev-big" in said

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["policies", "check", "--format", "json"])
    assert r.exit_code == 0, r.output
    found = json.loads(r.output)
    with open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}", read_only=True) as wh:
        t = wh.table("cost_line_items")
        rows = t.select("ResourceId", "ResourceName", "Tags").distinct().to_pyarrow().to_pylist()
    billed = {r["ResourceName"]: r["ResourceId"] for r in rows}
    prod = {r["ResourceId"] for r in rows if dict(r["Tags"] or []).get("env") == "prod"}
    assert prod  # the demo's serving fleet is production
    (forgotten,) = [d for d in found if d["resource_name"] == "vision-dev-big"]
    assert forgotten["resource_id"] == billed["vision-dev-big"]
    assert forgotten["resource_id"].startswith("arn:aws:ec2:")
    assert (forgotten["policy"], forgotten["decision"], forgotten["owner"]) == (
        "idle-off-hours",
        "marked",
        "vision",
    )
    assert forgotten["deadline"] and forgotten["executor"] == "aws-ec2"
    assert not [d for d in found if d["resource_id"] in prod]
    # check is read-only: nothing was marked.
    with open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}", read_only=True) as wh:
        assert wh.table("policy_marks").count().execute() == 0
