"""Faults: an EC2 endpoint that answers 500, refuses credentials or is not there, and no
credentials at all. A small HTTP server on loopback stands in for the EC2 endpoint (boto3
talks to it through ``endpoint_url``) and counts the requests, so a retry is seen on the wire:
5xx and throttling are retried with backoff, credential and validation errors are not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.cli.main import cli
from mlcost.policies.executors import Ec2Executor, LocalProcessExecutor, run_action
from tests.attribution.conftest import ACCOUNT, line, put, sample, workload

pytest.importorskip("boto3")

IID = "i-0abc12345678def00"
ARN = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/{IID}"
# What EC2 answers, by the stub's mode: (HTTP status, error code). EC2 API reference,
# "Error codes" (2026): AuthFailure is 401, RequestLimitExceeded 503 (throttling).
_ANSWERS = {
    "500": (500, "InternalError"),
    "throttled": (503, "RequestLimitExceeded"),
    "auth": (401, "AuthFailure"),
    "malformed": (400, "InvalidInstanceID.Malformed"),
}

_KUBE = {"500": (500, "InternalError"), "throttled": (429, "TooManyRequests")} | {
    "auth": (403, "Forbidden"),
    "malformed": (422, "Invalid"),
}


@dataclass
class Ec2Stub:
    url: str
    mode: str = "500"
    calls: Counter[str] = field(default_factory=Counter)  # EC2 Action -> requests


@pytest.fixture
def stub() -> Iterator[Ec2Stub]:
    state = Ec2Stub("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            state.calls[parse_qs(body).get("Action", ["?"])[0]] += 1
            if state.mode == "slow":
                time.sleep(2)  # longer than the client's read timeout: it gave up already
                return
            status, code = _ANSWERS[state.mode]
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
                f"<Code>{code}</Code><Message>stub says {code}</Message></Error></Errors>"
                "<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(xml)))
            self.end_headers()
            self.wfile.write(xml)

        def do_GET(self) -> None:
            """A Kubernetes API server: every read answers a Status of the mode's code."""
            state.calls[f"GET {self.path.split('?')[0]}"] += 1
            status, code = _KUBE[state.mode]
            body = json.dumps(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status}
                | {"reason": code, "message": f"stub says {code}"}
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere: env cleared, empty config files, no instance metadata."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        empty = tmp_path / key.lower()
        empty.write_text("")
        monkeypatch.setenv(key, str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _test_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.parametrize(
    ("mode", "requests", "retryable"),
    [("500", 3, True), ("throttled", 3, True), ("auth", 1, False), ("malformed", 1, False)],
)
def test_run_action_retries_what_may_pass_and_never_raises(
    stub: Ec2Stub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mode: str,
    requests: int,
    retryable: bool,
) -> None:
    _test_keys(monkeypatch, tmp_path)
    stub.mode = mode
    waits: list[float] = []
    ex = Ec2Executor(region="eu-west-1", endpoint_url=stub.url)
    out = run_action(ex, "stop", IID, attempts=3, backoff=0.5, sleep=waits.append)
    assert not out.ok and out.retryable is retryable
    assert out.error is not None and _ANSWERS[mode][1] in out.error
    # On the wire: one StopInstances per attempt, and nothing else.
    assert stub.calls == Counter({"StopInstances": requests})
    assert waits == [0.5, 1.0][: requests - 1]  # exponential backoff between attempts
    if mode == "auth":
        assert "Fix: check the credentials' account and IAM permissions" in out.error
        assert "ec2:StopInstances" in out.error


def test_an_answer_later_than_the_read_timeout_is_retried(
    stub: Ec2Stub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _test_keys(monkeypatch, tmp_path)
    stub.mode = "slow"
    ex = Ec2Executor(endpoint_url=stub.url, read_timeout=0.3)
    out = run_action(ex, "stop", IID, sleep=lambda _s: None)
    assert (out.ok, out.retryable) == (False, True)
    assert out.error is not None and "Read timeout" in out.error
    assert stub.calls == Counter({"StopInstances": 3})


def test_unreachable_endpoint_is_retried_and_its_url_secrets_redacted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    _test_keys(monkeypatch, tmp_path)
    with socket.socket() as s:  # a port nobody listens on: every try is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ex = Ec2Executor(endpoint_url=f"http://127.0.0.1:{port}/tenant-7?token=hunter2")
    waits: list[float] = []
    out = run_action(ex, "terminate", IID, backoff=2, sleep=waits.append)
    assert (out.ok, out.retryable, waits) == (False, True, [2, 4])
    assert out.error is not None and "Could not connect" in out.error
    assert f"127.0.0.1:{port}" in out.error  # which endpoint, ...
    assert "hunter2" not in out.error and "tenant-7" not in out.error  # ... not its secrets


def _org(url: str, stub: Ec2Stub, pid: int) -> None:
    """An idle EC2 instance billed in eu-west-1 (telemetry names its instance id), and a
    local training process over its time limit."""
    with open_warehouse(url) as wh:
        put(
            wh,
            "cost_line_items",
            [
                line(
                    "3.06",
                    resource=ARN,
                    start=h,
                    gpus=1,
                    RegionId="eu-west-1",
                    ServiceName="Amazon Elastic Compute Cloud",
                )
                for h in range(3)
            ],
        )
        put(wh, "gpu_samples", [sample(IID, m / 60, 0.0) for m in range(0, 121, 10)])
        put(
            wh,
            "workloads",
            [{**workload(f"local:{pid}", "laptop", 0, 0, 1, kind="training"), "end": None}],
        )


_POLICIES = """
[policies.idle-ec2]
kind = "idle"
executor = "aws-ec2"
endpoint_url = "{url}"

[policies.long-local]
kind = "max-duration"
max_hours = {{ "*" = 1 }}
executor = "local-process"
"""


@pytest.mark.parametrize(("mode", "requests"), [("500", 3), ("auth", 1), ("no-credentials", 0)])
def test_enforce_records_the_fault_goes_on_and_exits_1(
    stub: Ec2Stub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str, requests: int
) -> None:
    if mode == "no-credentials":
        _no_aws(monkeypatch, tmp_path)
    else:
        _test_keys(monkeypatch, tmp_path)
        stub.mode = mode
    monkeypatch.setenv("MLCOST_SPOOL", str(tmp_path / "spool"))
    monkeypatch.chdir(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        LocalProcessExecutor.record(proc.pid)
        url = f"duckdb://{tmp_path / 'w.duckdb'}"
        _org(url, stub, proc.pid)
        (tmp_path / "mlcost.toml").write_text(_POLICIES.format(url=stub.url))
        r = CliRunner().invoke(cli, ["--warehouse", url, "policies", "enforce", "--format", "json"])
        assert r.exit_code == 1, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit)  # no traceback
        ec2, local = json.loads(r.stdout)
        # The EC2 decision failed with the reason, naming what the executor needs ...
        assert (ec2["policy"], ec2["resource_id"], ec2["outcome"]) == ("idle-ec2", ARN, "failed")
        assert (ec2["provider"], ec2["account"], ec2["region"]) == ("AWS", ACCOUNT, "eu-west-1")
        assert (ec2["resource_type"], ec2["executor"]) == ("ec2-instance", "aws-ec2")
        says = {
            "500": "InternalError",
            "auth": "AuthFailure",
            "no-credentials": "no AWS credentials found. Fix: give mlcost AWS credentials",
        }[mode]
        assert says in ec2["detail"], ec2
        if mode == "500":
            assert "(after 3 attempts)" in ec2["detail"]
        if mode == "no-credentials":
            assert "account 111122223333, region eu-west-1" in ec2["detail"]
            assert "AWS_PROFILE" in ec2["detail"]
        # ... each try on the wire (DescribeInstances: the live protect tag is read first) ...
        assert sum(stub.calls.values()) == requests == stub.calls["DescribeInstances"]
        # ... and the next policy still ran.
        assert (local["policy"], local["outcome"]) == ("long-local", "would-act")
        assert local["resource_type"] == "local-process" and proc.poll() is None
        assert "1 decision(s) failed" in r.stderr
        with open_warehouse(url, read_only=True) as wh:
            cols = ("policy", "action", "outcome")
            audit = wh.table("actions").select(*cols).to_pyarrow().to_pylist()
        # The failed EC2 decision marks nothing; the process is marked (grace 0: its deadline
        # is now) and its action would run in the same round.
        assert sorted((a["policy"], a["action"], a["outcome"]) for a in audit) == [
            ("idle-ec2", "stop", "failed"),
            ("long-local", "mark", "marked"),
            ("long-local", "stop", "would-act"),
        ]
        # watch --once goes on past it too, and its exit code says a decision failed.
        w = CliRunner().invoke(cli, ["--warehouse", url, "watch", "--once"])
        assert w.exit_code == 1 and "1 failed" in w.output, w.output
        assert w.exception is None or isinstance(w.exception, SystemExit)
    finally:
        proc.kill()
        proc.wait()


def test_check_without_credentials_shows_the_decision_and_the_fault(
    stub: Ec2Stub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # policies check calls no provider: it says what enforce would decide, and that enforce
    # fails until the credentials are given; it exits 0 and writes nothing.
    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("MLCOST_SPOOL", str(tmp_path / "spool"))
    monkeypatch.chdir(tmp_path)
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    _org(url, stub, os.getpid())
    (tmp_path / "mlcost.toml").write_text(_POLICIES.format(url=stub.url))
    r = CliRunner().invoke(cli, ["--warehouse", url, "policies", "check", "--format", "json"])
    assert r.exit_code == 0, r.output
    ec2, local = json.loads(r.stdout)
    assert (ec2["resource_id"], ec2["decision"], ec2["executor"]) == (ARN, "would-act", "aws-ec2")
    assert "enforce fails until this is fixed" in ec2["detail"]
    assert "no AWS credentials found. Fix: give mlcost AWS credentials" in ec2["detail"]
    assert (local["policy"], local["decision"]) == ("long-local", "would-act")
    assert "enforce fails" not in local["detail"]
    assert sum(stub.calls.values()) == 0
    with open_warehouse(url, read_only=True) as wh:
        assert wh.table("actions").count().execute() == 0


@pytest.mark.parametrize(
    ("mode", "requests", "retryable"),
    [("500", 3, True), ("throttled", 3, True), ("auth", 1, False), ("malformed", 1, False)],
)
def test_kubernetes_api_errors_are_retried_only_where_they_may_pass(
    stub: Ec2Stub,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mode: str,
    requests: int,
    retryable: bool,
) -> None:
    pytest.importorskip("kubernetes")
    from mlcost.policies.executors import ExecutorError, KubernetesExecutor, with_retries

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    stub.mode = mode
    ex = KubernetesExecutor(endpoint_url=stub.url)
    with pytest.raises(ExecutorError) as err:
        with_retries(lambda: ex.state("ml/deployment/ranker"), backoff=0, sleep=lambda _s: None)
    assert err.value.retryable is retryable
    assert stub.calls == Counter({"GET /apis/apps/v1/namespaces/ml/deployments/ranker": requests})
    status, code = _KUBE[mode]
    assert f"HTTP {status}" in str(err.value) and f"stub says {code}" in str(err.value)
    assert "HTTP response headers" not in str(err.value)  # not the answer's headers
    if mode == "auth":
        assert err.value.fix is not None and "RBAC" in err.value.fix


# scancel that logs each call and answers as the mode says (Slurm 23 messages).
_SCANCEL = """#!/bin/sh
echo "$@" >> {log}
case "{mode}" in
  down) echo "scancel: error: Unable to contact slurm controller (connect failure)" >&2; exit 1;;
  denied) echo "scancel: error: Kill job error on job id $1: Access/permission denied" >&2; exit 1;;
esac
"""


@pytest.mark.parametrize(("mode", "calls", "retryable"), [("down", 3, True), ("denied", 1, False)])
def test_scancel_retried_while_the_controller_is_unreachable_only(
    tmp_path: Path, mode: str, calls: int, retryable: bool
) -> None:
    from mlcost.policies.executors import SlurmExecutor

    log, scancel = tmp_path / "argv.log", tmp_path / "scancel"
    scancel.write_text(_SCANCEL.format(log=log, mode=mode))
    scancel.chmod(0o755)
    out = run_action(SlurmExecutor(scancel=str(scancel)), "scancel", "101", sleep=lambda _s: None)
    assert (out.ok, out.retryable) == (False, retryable)
    assert log.read_text().splitlines() == ["101"] * calls
    assert out.error is not None and "scancel: error:" in out.error


def test_a_process_recorded_right_after_it_starts_is_recorded_after_its_exec(
    tmp_path: Path,
) -> None:
    # Between fork and exec the child shows the parent's command line (about 1 in 5 here):
    # a record taken then made the later command check refuse the process mlcost started.
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            path = LocalProcessExecutor.record(proc.pid, folder=tmp_path)
            assert json.loads(path.read_text())["cmdline"][-1] == "import time; time.sleep(30)"
            assert LocalProcessExecutor(folder=tmp_path).state(str(proc.pid)) == "running"
        finally:
            proc.kill()
            proc.wait()


_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: eks-a
  cluster: {{server: "{a}"}}
- name: gke-b-cluster
  cluster: {{server: "{b}"}}
users:
- name: u
  user: {{token: not-a-secret}}
contexts:
- name: eks-a
  context: {{cluster: eks-a, user: u}}
- name: gke-b
  context: {{cluster: gke-b-cluster, user: u}}
current-context: gke-b
"""


def test_a_kubernetes_workload_is_acted_on_in_its_own_cluster_only(
    stub: Ec2Stub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    pytest.importorskip("kubernetes")
    from datetime import timedelta

    from mlcost.config import parse_policies
    from mlcost.policies import check
    from mlcost.policies.executors import (
        ExecutorError,
        KubernetesExecutor,
        Unexecutable,
        executor_for,
    )
    from tests.attribution.conftest import T0

    with socket.socket() as s:  # the other cluster's API server: nobody listens
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(_KUBECONFIG.format(a=stub.url, b=closed))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    stub.mode = "auth"  # answers at once; which server was asked is what counts
    owner = {"namespace": "ml", "controllerKind": "deployment", "controller": "ranker"}
    pods = [("opencost:eks-a/ml/ranker-7d9f8-x2kq/main", "eks-a")]
    pods.append(("opencost:eks-c/ml/ranker-55c6-p9/main", "eks-c"))
    rows = [
        {**workload(w, "node-1", 0, 0, 1, tags=owner, kind="inference"), "end": None}
        | {"cluster": c}
        for w, c in pods
    ]
    (policy,) = parse_policies({"p": {"kind": "max-duration", "max_hours": {"*": 1}}})
    with open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}") as wh:
        put(wh, "workloads", rows)
        found = {v.cluster: v for v in check(wh, [policy], now=T0 + timedelta(hours=2))}
    a, c = found["eks-a"], found["eks-c"]
    assert (a.act_on, a.resource_type, a.executor) == (
        "k8s:ml/deployment/ranker",
        "k8s-deployment",
        "kubernetes",
    )
    ex = executor_for(a.identity(), policy)
    assert isinstance(ex, KubernetesExecutor)
    with pytest.raises(ExecutorError, match="HTTP 403"):
        ex.state("ml/deployment/ranker")
    # eks-a's API server was asked, not the current context's (gke-b).
    assert stub.calls == Counter({"GET /apis/apps/v1/namespaces/ml/deployments/ranker": 1})
    other = executor_for(c.identity(), policy)
    assert isinstance(other, Unexecutable) and other.decision == "failed"
    assert "cluster 'eks-c'" in other.reason and "contexts: eks-a, gke-b" in other.reason
    assert "kubectl config rename-context <context> eks-c" in other.fix
