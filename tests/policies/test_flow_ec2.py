"""Notice -> grace -> act on the demo's shapes, with the demo's policies, against a moto EC2
server and a webhook receiver on loopback (issue 21).

The instances are created in moto first (it picks their ids); the bill names them by ARN and
host name as the demo's does, the telemetry by host name, as nvidia-smi logs do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.cli.main import cli
from mlcost.demo._config import DEMO_CONFIG_TOML
from tests.attribution.conftest import ACCOUNT, line, put, sample
from tests.policies.conftest import Receiver, instance_state, launch

# T0 (2026-10-01) is a Thursday. The demo's idle policy: 2 idle hours outside Mon-Fri
# 08:00-19:00 UTC, 24 h grace. Telemetry runs to hour 50 (Friday 02:00... Saturday 02:00).
HOSTS = {
    # name: (tags, utilization)
    "vision-dev-big": ({"team": "vision", "env": "dev", "project": "segmentation"}, 0.0),
    "eks-serving-ranker-0": ({"team": "recommendations", "env": "prod", "project": "r"}, 0.026),
    "eks-serving-ranker-1": ({"team": "recommendations", "Environment": "production"}, 0.026),
    "nb-vision-kept": ({"team": "vision", "env": "dev", "project": "nb"}, 0.0),
    "nb-vision-protected": (
        {"team": "vision", "env": "dev", "project": "nb", "mlcost:protect": "true"},
        0.0,
    ),
}


@pytest.fixture
def org(
    ec2: Any, moto_url: str, receiver: Receiver, tmp_path: Path, request: pytest.FixtureRequest
) -> dict[str, Any]:
    until = getattr(request, "param", 50)  # the hour the telemetry ends
    ids = {name: launch(ec2, tags, "g5.12xlarge") for name, (tags, _) in HOSTS.items()}
    arn = {n: f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{i}" for n, i in ids.items()}
    url = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    with open_warehouse(url) as wh:
        put(
            wh,
            "cost_line_items",
            [
                line(
                    "5.67",
                    resource=arn[n],
                    start=h,
                    gpus=4,
                    tags=tags,
                    ResourceName=n,
                    x_InstanceType="g5.12xlarge",
                )
                for n, (tags, _) in HOSTS.items()
                for h in range(50)
            ],
        )
        put(
            wh,
            "gpu_samples",
            [sample(n, m / 6, u) for n, (_, u) in HOSTS.items() for m in range(until * 6 + 1)],
        )
    # The demo's mlcost.toml, its EC2 policies pointed at moto and vision's notices at the hook.
    toml = DEMO_CONFIG_TOML.replace(
        'action = "stop"\n', f'action = "stop"\nendpoint_url = "{moto_url}"\n'
    ).replace('[owners.vision]\nchannels = ["alerts-file"]', '[owners.vision]\nchannels = ["hook"]')
    toml += f'\n[notify.channels.hook]\nkind = "webhook"\nurl = "{receiver.url}"\n'
    (tmp_path / "mlcost.toml").write_text(toml)
    return {"ids": ids, "arn": arn, "url": url, "dir": tmp_path}


def _run(org: dict[str, Any], *args: str) -> list[dict[str, Any]]:
    r = CliRunner().invoke(cli, ["--warehouse", org["url"], "policies", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    found: list[dict[str, Any]] = json.loads(r.stdout)
    return [d for d in found if d["policy"] == "idle-off-hours"]


def test_forgotten_instance_is_marked_told_and_stopped_only_after_its_grace(
    org: dict[str, Any], ec2: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(org["dir"])
    ids, arn = org["ids"], org["arn"]
    forgotten = arn["vision-dev-big"]
    r = CliRunner().invoke(
        cli,
        [
            "--warehouse",
            org["url"],
            "policies",
            "exempt",
            "nb-vision-kept",  # by name: the identity resolves it to its billed ARN
            "--until",
            "2026-10-10",
            "--reason",
            "demo for the board on Friday",
        ],
    )
    assert r.exit_code == 0, r.output
    assert arn["nb-vision-kept"] in r.output

    # Thursday 22:00 UTC: outside working hours, idle for 2 h. Check is read-only.
    checked = {d["resource_name"]: d for d in _run(org, "check", "--as-of", "2026-10-01 22:00")}
    assert checked["vision-dev-big"]["decision"] == "marked"
    assert checked["vision-dev-big"]["resource_id"] == forgotten
    assert checked["vision-dev-big"]["deadline"] == "2026-10-02 22:00:00"
    with open_warehouse(org["url"], read_only=True) as wh:
        assert wh.table("policy_marks").count().execute() == 0
    assert receiver.bodies == []

    # enforce (a dry run) marks it and tells vision through its channel: one message.
    first = {d["resource_name"]: d for d in _run(org, "enforce", "--as-of", "2026-10-01 22:00")}
    assert first["vision-dev-big"]["decision"] == "notified"
    assert first["vision-dev-big"]["owner"] == "vision"
    assert first["nb-vision-kept"]["decision"] == "exempt"
    assert first["nb-vision-protected"]["decision"] == "protected"
    # Production replicas (env prod / production) are out of idle shutdown: never marked.
    assert not any(n.startswith("eks-serving") for n in first)
    (notice,) = receiver.bodies
    assert notice["resource_id"] == forgotten and notice["owner"] == "vision"
    assert notice["deadline"] == "2026-10-02T22:00:00"
    assert "GPU utilization at most 0.0%" in notice["evidence"]
    assert f"mlcost policies exempt {forgotten} --until" in notice["keep"]

    # Friday 06:00, before the deadline, even with --execute: nothing is stopped, no new notice.
    early = {
        d["resource_name"]: d
        for d in _run(org, "enforce", "--execute", "--as-of", "2026-10-02 06:00")
    }
    assert early["vision-dev-big"]["decision"] == "marked"
    assert {instance_state(ec2, i) for i in ids.values()} == {"running"}
    assert len(receiver.bodies) == 1

    # Friday 23:00, past the deadline, still idle on the latest data: stopped.
    late = {
        d["resource_name"]: d
        for d in _run(org, "enforce", "--execute", "--as-of", "2026-10-02 23:00")
    }
    assert late["vision-dev-big"]["decision"] == "acted"
    assert instance_state(ec2, ids["vision-dev-big"]) in ("stopping", "stopped")
    assert late["nb-vision-kept"]["decision"] == "exempt"
    assert late["nb-vision-protected"]["decision"] == "protected"
    for name in ("nb-vision-kept", "nb-vision-protected", "eks-serving-ranker-0"):
        assert instance_state(ec2, ids[name]) == "running", name
    assert len(receiver.bodies) == 1

    # Every step has an audit row, with who and why.
    with open_warehouse(org["url"], read_only=True) as wh:
        a = wh.table("actions")
        rows = a.order_by(a.acted_at).to_pyarrow().to_pylist()
        marks = wh.table("policy_marks").to_pyarrow().to_pylist()
    steps = {(r["resource_id"], r["action"], r["outcome"]) for r in rows}
    assert {
        (forgotten, "mark", "marked"),
        (forgotten, "notify", "notified"),
        (forgotten, "stop", "marked"),
        (forgotten, "stop", "acted"),
        (arn["nb-vision-kept"], "exempt", "exempt"),
        (arn["nb-vision-kept"], "stop", "exempt"),
        (arn["nb-vision-protected"], "stop", "protected"),
    } <= steps
    replicas = {arn["eks-serving-ranker-0"], arn["eks-serving-ranker-1"]}
    idle_rows = [r for r in rows if r["policy"] == "idle-off-hours"]
    assert idle_rows and not [r for r in idle_rows if r["resource_id"] in replicas]
    assert all(r["actor"] and r["reason"] for r in rows)
    assert [r["reason"] for r in rows if r["action"] == "exempt"] == [
        "demo for the board on Friday"
    ]
    r = CliRunner().invoke(
        cli, ["--warehouse", org["url"], "policies", "audit", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)) == min(len(rows), 50)  # newest first, 50 by default
    idle_marks = [m for m in marks if m["policy"] == "idle-off-hours"]
    assert [(m["resource_id"], m["closed_why"]) for m in idle_marks] == [(forgotten, "acted")]


@pytest.mark.parametrize("org", [30], indirect=True)  # telemetry ends Friday 06:00
def test_no_telemetry_since_the_deadline_is_reported_not_acted_on(
    org: dict[str, Any], ec2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(org["dir"])
    _run(org, "enforce", "--as-of", "2026-10-01 22:00")  # marked, deadline Friday 22:00
    # Friday 23:00: past the deadline, but the newest sample is from 06:00: not acted on.
    later = {
        d["resource_id"]: d
        for d in _run(org, "enforce", "--execute", "--as-of", "2026-10-02 23:00")
    }
    d = later[org["arn"]["vision-dev-big"]]
    assert d["decision"] == "skipped" and "no telemetry since the deadline" in d["detail"]
    assert "newest 2026-10-02 06:00 UTC" in d["detail"]
    assert instance_state(ec2, org["ids"]["vision-dev-big"]) == "running"
    with open_warehouse(org["url"], read_only=True) as wh:
        m = wh.table("policy_marks")
        assert m.filter(m.closed_at.isnull()).count().execute() >= 1  # the mark stays
