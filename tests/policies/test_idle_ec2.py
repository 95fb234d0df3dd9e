"""Idle shutdown against a moto server on loopback: boto3 talks HTTP to it, nothing patched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlcost import Warehouse
from mlcost.config import parse_policies
from mlcost.policies import check, enforce
from tests.attribution.conftest import put, sample
from tests.policies.conftest import instance_state, launch


def _policies(moto_url: str) -> Any:
    return parse_policies(
        {
            "idle-gpu": {
                "kind": "idle",
                "max_utilization": 0.05,
                "minutes": 60,
                "endpoint_url": moto_url,
            }
        }
    )


def _idle_for_two_hours(wh: Warehouse, *ids: str, busy: tuple[str, ...] = ()) -> None:
    rows = [sample(i, m / 60, 0.01) for i in ids for m in range(0, 121, 10)]
    rows += [sample(b, m / 60, 0.7) for b in busy for m in range(0, 121, 10)]
    put(wh, "gpu_samples", rows)


def test_idle_instance_stopped_only_with_execute_and_never_when_protected(
    wh: Warehouse, ec2: Any, moto_url: str
) -> None:
    idle = launch(ec2, {"team": "vision"})
    protected = launch(ec2, {"team": "vision", "mlcost:protect": "true"})
    busy = launch(ec2, {"team": "search"})
    _idle_for_two_hours(wh, idle, protected, busy=(busy,))
    policies = _policies(moto_url)
    assert {v.resource_id for v in check(wh, policies)} == {idle, protected}

    # Dry-run (the default): nothing changes, the audit says what would happen.
    dry = {d.violation.resource_id: d for d in enforce(wh, policies, actor="test")}
    # No grace configured: marked and due at once (dry-run: would act).
    assert (dry[idle].decision, dry[protected].decision) == ("would-act", "protected")
    assert {instance_state(ec2, i) for i in (idle, protected, busy)} == {"running"}

    done = {d.violation.resource_id: d for d in enforce(wh, policies, execute=True, actor="test")}
    assert done[idle].decision == "acted" and "-> stopping" in done[idle].detail
    assert done[protected].decision == "protected"
    assert "mlcost:protect=true" in done[protected].detail
    assert instance_state(ec2, idle) in ("stopping", "stopped")
    assert (instance_state(ec2, protected), instance_state(ec2, busy)) == ("running", "running")

    a = wh.table("actions")
    rows = a.order_by([a.acted_at, a.mode, a.resource_id]).to_pyarrow().to_pylist()
    audit = sorted((r["mode"], r["resource_id"], r["action"], r["outcome"]) for r in rows)
    assert audit == sorted(
        [
            ("dry-run", idle, "mark", "marked"),  # the first violation marks it (grace 0)
            ("dry-run", idle, "stop", "would-act"),
            ("dry-run", protected, "stop", "protected"),
            ("execute", idle, "stop", "acted"),
            ("execute", protected, "stop", "protected"),
        ]
    )
    assert all(r["actor"] == "test" and r["policy"] == "idle-gpu" for r in rows)
    assert all("GPU utilization at most 1.0%" in r["reason"] for r in rows)

    # Run again: the stopped instance is skipped, not stopped twice.
    again = {d.violation.resource_id: d for d in enforce(wh, policies, execute=True, actor="test")}
    assert again[idle].decision == "skipped" and "already" in again[idle].detail


def test_unsupported_executor_or_action_is_reported_not_skipped(wh: Warehouse) -> None:
    _idle_for_two_hours(wh, "i-0123456789abcdef0")
    policies = parse_policies(
        {
            "nomad": {"kind": "idle", "executor": "nomad", "action": "stop"},
            "hibernate": {"kind": "idle", "executor": "aws-ec2", "action": "hibernate"},
        }
    )
    nomad, hibernate = enforce(wh, policies, execute=True, actor="test")
    # Nothing can act on them: reported with the reason and the fix, never marked.
    assert nomad.decision == "skipped" and "no executor 'nomad'" in nomad.detail
    assert "aws-sagemaker, kubernetes, local-process, slurm" in nomad.detail
    assert 'Fix: set executor = "auto" in [policies.nomad]' in nomad.detail
    assert hibernate.decision == "skipped"
    assert hibernate.detail == (
        "aws-ec2 can stop, terminate. Fix: set action to one of them in [policies.hibernate]"
    )
    assert wh.table("actions").outcome.to_pyarrow().to_pylist() == ["skipped"] * 2
    assert wh.table("policy_marks").count().execute() == 0


def test_short_idle_spell_is_not_a_violation(wh: Warehouse) -> None:
    # Only 30 minutes of samples for a 60-minute policy: not idle long enough to tell.
    put(
        wh,
        "gpu_samples",
        [sample("i-0123456789abcdef0", 1.5 + m / 60, 0.0) for m in range(0, 31, 10)],
    )
    assert check(wh, parse_policies({"p": {"kind": "idle", "minutes": 60}})) == []


def test_budget_action_stops_dev_gpus_of_its_scope_at_100_percent(
    wh: Warehouse, ec2: Any, moto_url: str
) -> None:
    from mlcost.config import parse_budgets
    from tests.attribution.conftest import line

    dev = launch(ec2, {"team": "vision", "env": "dev"})
    prod = launch(ec2, {"team": "vision", "env": "prod"})
    guarded = launch(ec2, {"team": "vision", "env": "staging", "mlcost:protect": "true"})
    other = launch(ec2, {"team": "search", "env": "dev"})

    def arn(iid: str) -> str:
        return f"arn:aws:ec2:us-east-1:111122223333:instance/{iid}"

    lines = [
        line("30.00", resource=arn(i), start=24 * d, hours=24, gpus=1, tags={"team": t, "env": e})
        for d in range(3)
        for i, t, e in (
            (dev, "vision", "dev"),
            (prod, "vision", "prod"),
            (guarded, "vision", "staging"),
            (other, "search", "dev"),
        )
    ]
    put(wh, "cost_line_items", lines)
    budgets = parse_budgets(
        {"vision": {"amount": 200, "currency": "USD", "scope": {"team": "vision"}}}
    )
    policies = parse_policies(
        {"vision-cap": {"kind": "budget", "budget": "vision", "endpoint_url": moto_url}}
    )
    # 270 of 200 USD spent: the dev and staging GPUs of vision are in scope, prod and search not.
    assert {v.resource_id for v in check(wh, policies, budgets=budgets)} == {arn(dev), arn(guarded)}
    done = {
        d.violation.resource_id: d
        for d in enforce(wh, policies, execute=True, actor="test", budgets=budgets)
    }
    assert done[arn(dev)].decision == "acted" and done[arn(guarded)].decision == "protected"
    assert instance_state(ec2, dev) in ("stopping", "stopped")
    assert {instance_state(ec2, i) for i in (prod, guarded, other)} == {"running"}
    a = wh.table("actions")
    (reason,) = set(a.filter(a.action == "stop").reason.to_pyarrow().to_pylist())
    assert "budget 'vision' spent 270.00 of 200.00 USD" in reason


def test_untagged_gpu_resources_older_than_n_hours(wh: Warehouse) -> None:
    from tests.attribution.conftest import line

    put(
        wh,
        "cost_line_items",
        [
            # untagged for two days and still running: a violation
            *[line("3.00", resource="i-00000000000000001", start=h, gpus=1) for h in range(48)],
            # untagged but started an hour ago: not yet
            line("3.00", resource="i-00000000000000002", start=47, gpus=1),
            # tagged: fine; untagged CPU storage: not a GPU resource
            *[
                line(
                    "3.00", resource="i-00000000000000003", start=h, gpus=1, tags={"team": "vision"}
                )
                for h in range(48)
            ],
            *[line("1.00", resource="bucket", start=h) for h in range(48)],
        ],
    )
    policies = parse_policies({"tags": {"kind": "required-tags", "tags": ["team"], "hours": 24}})
    (v,) = check(wh, policies)
    assert v.resource_id == "i-00000000000000001" and "without tag(s) team" in v.reason


def test_running_workloads_over_their_kind_limit(wh: Warehouse) -> None:
    from datetime import datetime

    from tests.attribution.conftest import workload

    def running(wid: str, start: float, kind: str) -> dict[str, Any]:
        return {**workload(wid, "node", start, start, 1, kind=kind), "end": None}

    put(
        wh,
        "workloads",
        [
            running("slurm:1", 0, "training"),  # 100 h: over 72
            running("slurm:2", 50, "training"),  # 50 h: fine
            running("k8s:nb", 70, "notebook"),  # 30 h: over "*" 24
            workload("slurm:3", "node-1", 0, 90, 8, kind="training"),  # finished
        ],
    )
    policies = parse_policies(
        {
            "long": {
                "kind": "max-duration",
                "max_hours": {"training": 72, "*": 24},
                "executor": "slurm",
                "action": "scancel",
            }
        }
    )
    now = datetime(2026, 10, 5, 4)  # 100 hours after T0
    found = check(wh, policies, now=now)
    assert [v.resource_id for v in found] == ["k8s:nb", "slurm:1"]
    assert "training running 100.0 h" in found[1].reason and "limit is 72 h" in found[1].reason
    # scancel itself: tests/policies/test_executors.py


def test_local_process_over_its_limit_is_stopped_only_with_execute(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from mlcost.policies import LocalProcessExecutor
    from tests.attribution.conftest import T0, workload

    monkeypatch.setenv("MLCOST_SPOOL", str(tmp_path / "spool"))
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        LocalProcessExecutor.record(proc.pid)  # mlcost acts only on processes it recorded
        wid = f"local:{proc.pid}"
        put(wh, "workloads", [{**workload(wid, "laptop", 0, 0, 1, kind="training"), "end": None}])
        policies = parse_policies(
            {"long": {"kind": "max-duration", "max_hours": {"*": 1}, "executor": "local-process"}}
        )
        now = T0 + timedelta(hours=2)
        (dry,) = enforce(wh, policies, now=now, actor="test")
        assert dry.decision == "would-act" and proc.poll() is None
        (done,) = enforce(wh, policies, now=now, execute=True, actor="test")
        assert done.decision == "acted" and "SIGTERM" in done.detail
        assert proc.wait(timeout=10) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_gpus_over_a_team_cap_flag_the_newest_resources(wh: Warehouse) -> None:
    from tests.attribution.conftest import line

    def node(name: str, since: int, team: str) -> list[dict[str, Any]]:
        return [
            line("30.00", resource=name, start=h, gpus=8, tags={"team": team})
            for h in range(since, 10)
        ]

    # vision runs 3 x 8 GPUs in hour 9, cap 16: the newest (started hour 5) is over.
    put(
        wh,
        "cost_line_items",
        [
            *node("a", 0, "vision"),
            *node("b", 2, "vision"),
            *node("c", 5, "vision"),
            *node("d", 0, "search"),
        ],
    )
    policies = parse_policies({"cap": {"kind": "max-gpus", "max_gpus": {"vision": 16, "*": 8}}})
    (v,) = check(wh, policies)
    assert v.resource_id == "c" and "vision runs 24 GPUs" in v.reason and "cap 16" in v.reason
