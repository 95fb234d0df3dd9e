"""One resource identity: a billed resource by every name, and findings that name it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlcost import Warehouse, open_warehouse
from mlcost.attribution import showback
from mlcost.attribution.identity import identify, resources, short_id
from mlcost.attribution.model import resource_owners
from mlcost.cli.main import cli
from mlcost.demo._config import demo_attribution
from tests.attribution.conftest import line, put, sample, workload

ARN = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc12345678def00"


def test_a_billed_resource_by_every_name_it_goes_by(wh: Warehouse) -> None:
    put(
        wh,
        "cost_line_items",
        [
            line("10.00", resource=ARN, gpus=8, RegionId="us-east-1", ResourceName="train-box"),
            line("1.00", resource="bucket-1"),
        ],
    )
    put(wh, "gpu_samples", [sample("gpu-7.cluster.local", 0.5, 0.3)])
    put(wh, "workloads", [workload("slurm:9", "train-box", 0, 1, 8)])
    (row,) = resources(wh).filter(lambda t: t.resource_id == ARN).to_pyarrow().to_pylist()
    assert row["short_id"] == "i-0abc12345678def00" == short_id(ARN)
    assert (row["resource_name"], row["account"], row["region"]) == (
        "train-box",
        "111122223333",
        "us-east-1",
    )
    found = identify(wh, [ARN, "i-0abc12345678def00", "TRAIN-BOX", "train-box", "nothing"])
    assert {n: i.resource_id for n, i in found.items()} == {
        ARN: ARN,
        "i-0abc12345678def00": ARN,
        "TRAIN-BOX": ARN,
        "train-box": ARN,
    }
    assert found[ARN].name == "train-box" and found[ARN].provider == "AWS"


def test_a_host_name_links_through_resource_links(wh: Warehouse) -> None:
    put(wh, "cost_line_items", [line("10.00", resource=ARN, gpus=8, ResourceName=None)])
    put(wh, "gpu_samples", [sample("i-0abc12345678def00.ec2.internal", 0.5, 0.0)])
    (who,) = identify(wh, ["i-0abc12345678def00.ec2.internal"]).values()
    # No ResourceName: the readable name is what telemetry calls it.
    assert who.resource_id == ARN and who.name == "i-0abc12345678def00.ec2.internal"


def _insights(demo_org: Path, *args: str) -> list[dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    mp.chdir(demo_org)
    try:
        r = CliRunner().invoke(cli, ["insights", "--format", "json", *args])
    finally:
        mp.undo()
    assert r.exit_code == 0, r.output
    # `insights --format json` is one object: the window, detectors run and skipped, findings.
    out: list[dict[str, Any]] = json.loads(r.output)["findings"]
    return out


@pytest.fixture(scope="module")
def findings(demo_org: Path) -> list[dict[str, Any]]:
    with open_warehouse(f"duckdb://{demo_org / 'warehouse.duckdb'}") as wh:
        showback(wh, demo_attribution(), "2026-05")
    return _insights(demo_org)


def test_every_finding_about_a_resource_names_it_by_its_billed_id(
    demo_org: Path, findings: list[dict[str, Any]]
) -> None:
    with open_warehouse(f"duckdb://{demo_org / 'warehouse.duckdb'}", read_only=True) as wh:
        t = wh.table("cost_line_items")
        billed = set(t.ResourceId.to_pyarrow().to_pylist()) - {None}
        hosts = set(wh.table("gpu_samples").resource_id.to_pyarrow().to_pylist())
        owners = resource_owners(wh, demo_attribution(), sorted(billed))
    about = [f for f in findings if f["resource_id"] is not None]
    assert about and {f["kind"] for f in about} >= {"idle_gpu", "spot", "early_stop"}
    for f in about:
        assert f["resource_id"] in billed and f["resource_name"], f
        assert f["owner"] == owners[str(f["resource_id"])], f
    idle = {f["resource_name"]: f["resource_id"] for f in about if f["kind"] == "idle_gpu"}
    assert str(idle["vision-dev-big"]).startswith("arn:aws:ec2:")
    assert not {f["resource_id"] for f in about} & (hosts - billed)


def test_a_commitment_names_the_resources_whose_hours_it_covers(
    demo_org: Path, findings: list[dict[str, Any]]
) -> None:
    # The demo organization here holds 7 days: below the default 30-day look-back a commitment
    # is never recommended (issue 19), so this test looks back over the 7 days it has.
    findings = _insights(demo_org, "--commitment-lookback", "7")
    buys = [
        f for f in findings if f["kind"] == "commitment" and f["evidence"].get("pattern") == "buy"
    ]
    assert buys
    with open_warehouse(f"duckdb://{demo_org / 'warehouse.duckdb'}", read_only=True) as wh:
        t = wh.table("cost_line_items")
        kinds = {
            r["ResourceId"]: r["x_InstanceType"]
            for r in t.select("ResourceId", "x_InstanceType").distinct().to_pyarrow().to_pylist()
        }
    for f in buys:
        ids = list(f["resource_ids"])
        assert ids and all(kinds[i] == f["evidence"]["instance_type"] for i in ids)
