"""Policies read attribution: owners as showback gives them, resources by their billed id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlcost import Warehouse, open_warehouse
from mlcost.attribution import showback
from mlcost.attribution.model import resource_owners
from mlcost.cli.main import cli
from mlcost.config import AttributionConfig, parse_policies
from mlcost.demo._config import DEMO_CONFIG_TOML, demo_attribution
from mlcost.policies import check
from tests.attribution.conftest import MONTH, demo_org, line, put, workload

__all__ = ["demo_org"]  # the fixture, shared with tests/attribution

CONFIG = AttributionConfig(
    owner="team",
    required=("team",),
    allowed={"team": ("vision", "llm-platform", "search")},
)
POLICIES = parse_policies(
    {
        "caps": {"kind": "max-gpus", "max_gpus": {"*": 8}},
        "tags": {"kind": "required-tags", "tags": ["team"], "hours": 24},
    }
)


def _node(name: str, since: int, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [line("30.00", resource=name, start=h, gpus=8, tags=tags) for h in range(since, 30)]


@pytest.mark.parametrize(
    ("key", "value", "owner"),
    [
        ("Team", "vision", "vision"),
        ("team_name", "vision", "vision"),
        ("team", "LLM-Platform", "llm-platform"),
        ("team", "llm", "llm-platform"),
    ],
)
def test_each_tag_spelling_counts_for_its_owner(
    wh: Warehouse, key: str, value: str, owner: str
) -> None:
    # One node spelled as the bill spells it, one spelled canonically (newer), one for search:
    # the owner runs 16 GPUs over a cap of 8 only if both spellings are the same owner.
    put(
        wh,
        "cost_line_items",
        [
            *_node("spelled", 0, {key: value}),
            *_node("canonical", 2, {"team": owner}),
            *_node("other", 0, {"team": "search"}),
        ],
    )
    found = check(wh, POLICIES, attribution=CONFIG)
    assert [(v.policy, v.resource_id, v.owner) for v in found] == [("caps", "canonical", owner)]
    assert "runs 16 GPUs" in found[0].reason
    sb = showback(wh, CONFIG, MONTH)
    assert {s.owner for s in sb.statements} == {owner, "search"}
    assert resource_owners(wh, CONFIG, ["spelled", "canonical"]) == {
        "spelled": owner,
        "canonical": owner,
    }


def test_the_owner_of_an_untagged_node_comes_from_its_workloads(wh: Warehouse) -> None:
    put(wh, "cost_line_items", [*_node("bare", 0, {}), *_node("tagged", 0, {"team": "vision"})])
    put(wh, "workloads", [workload("slurm:1", "bare", 0, 30, 8, tags={"team": "vision"})])
    found = check(wh, POLICIES, attribution=CONFIG)
    # required-tags reads the node's own tags (it has none); both count for vision's cap.
    assert sorted((v.policy, v.resource_id, v.owner) for v in found) == [
        ("caps", "tagged", "vision"),
        ("tags", "bare", "vision"),
    ]
    sb = showback(wh, CONFIG, MONTH)
    assert [s.owner for s in sb.statements] == ["vision"]


@pytest.fixture(scope="module")
def demo_checks(demo_org: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("policies")
    (folder / "mlcost.toml").write_text(
        DEMO_CONFIG_TOML.replace(
            'warehouse = "warehouse.duckdb"', f'warehouse = "{demo_org / "warehouse.duckdb"}"'
        )
        + '\n[policies.idle]\nkind = "idle"\n'
        + '[policies.caps]\nkind = "max-gpus"\nmax_gpus = { "*" = 1 }\n'
        + '[policies.tags]\nkind = "required-tags"\ntags = ["team", "project"]\nhours = 1\n'
    )
    with open_warehouse(f"duckdb://{demo_org / 'warehouse.duckdb'}") as wh:
        showback(wh, demo_attribution(), "2026-05")
    return folder


def test_demo_decisions_name_billed_resources_and_showbacks_owners(
    demo_org: Path, demo_checks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_checks)
    r = CliRunner().invoke(cli, ["policies", "check", "--format", "json"])
    assert r.exit_code == 0, r.output
    found = json.loads(r.output)
    assert {v["policy"] for v in found} >= {"idle", "caps"}
    with open_warehouse(f"duckdb://{demo_org / 'warehouse.duckdb'}", read_only=True) as wh:
        t = wh.table("cost_line_items")
        billed = set(t.select("ResourceId").distinct().to_pyarrow().column(0).to_pylist())
        hosts = set(wh.table("gpu_samples").resource_id.to_pyarrow().to_pylist())
        owners = resource_owners(wh, demo_attribution(), sorted(billed - {None}))
    for v in found:
        assert v["resource_id"] in billed and v["resource_name"], v
        assert v["owner"] == owners[v["resource_id"]], v
    idle = {v["resource_name"]: v["resource_id"] for v in found if v["policy"] == "idle"}
    # The forgotten dev instance is named by its billed ARN, not the host name telemetry uses.
    assert idle["vision-dev-big"].startswith("arn:aws:ec2:")
    assert not set(idle.values()) & hosts
