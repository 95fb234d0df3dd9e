"""SageMaker (moto server), Slurm (scancel/squeue binaries on PATH) and Kubernetes (the official
client against a small API server on loopback) executors, driven through ``enforce``."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlcost import Warehouse
from mlcost.config import parse_policies
from mlcost.policies import EXECUTORS, ExecutorError, enforce
from tests.attribution.conftest import T0, put, sample, workload
from tests.policies.conftest import by_resource, long_jobs, running_job

ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def _idle_for_two_hours(wh: Warehouse, *ids: str) -> None:
    put(wh, "gpu_samples", [sample(i, m / 60, 0.01) for i in ids for m in range(0, 121, 10)])


def _audit(wh: Warehouse) -> list[tuple[str, str, str]]:
    a = wh.table("actions")
    rows = a.select("mode", "resource_id", "outcome").to_pyarrow().to_pylist()
    return sorted((r["mode"], r["resource_id"], r["outcome"]) for r in rows)


def test_every_executor_declares_its_actions() -> None:
    assert sorted(EXECUTORS) == ["aws-ec2", "aws-sagemaker", "kubernetes", "local-process", "slurm"]
    for make in EXECUTORS.values():
        assert make.actions and make.inactive  # type: ignore[attr-defined]


# --- SageMaker ------------------------------------------------------------------------------


def _endpoint(sm: Any, name: str, tags: dict[str, str]) -> str:
    sm.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/llm:1"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.g4dn.xlarge",
            }
        ],
    )
    out = sm.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return str(out["EndpointArn"])


def _notebook(sm: Any, name: str, tags: dict[str, str]) -> str:
    out = sm.create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType="ml.p3.2xlarge",
        RoleArn=ROLE,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return str(out["NotebookInstanceArn"])


def test_idle_sagemaker_endpoint_and_notebook_stopped_only_with_execute(
    wh: Warehouse, aws: Any, moto_url: str
) -> None:
    sm = aws.client("sagemaker", region_name="us-east-1", endpoint_url=moto_url)
    endpoint = _endpoint(sm, "llm-chat", {"team": "nlp"})
    guarded = _endpoint(sm, "llm-prod", {"team": "nlp", "mlcost:protect": "true"})
    notebook = _notebook(sm, "nb-alice", {"team": "vision"})
    _idle_for_two_hours(wh, endpoint, guarded, notebook)
    policies = parse_policies(
        {
            "idle-sm": {
                "kind": "idle",
                "executor": "aws-sagemaker",
                "endpoint_url": moto_url,
            }
        }
    )

    dry = by_resource(enforce(wh, policies, actor="test"))
    assert [dry[r].outcome for r in (endpoint, guarded, notebook)] == [
        "would-act",
        "protected",
        "would-act",
    ]
    assert "(in-service)" in dry[endpoint].detail
    assert sm.describe_endpoint(EndpointName="llm-chat")["EndpointStatus"] == "InService"
    assert sm.describe_notebook_instance(NotebookInstanceName="nb-alice")[
        "NotebookInstanceStatus"
    ] == ("InService")

    done = by_resource(enforce(wh, policies, execute=True, actor="test"))
    assert done[endpoint].outcome == "acted"
    assert "endpoint config llm-chat-config kept" in done[endpoint].detail
    assert done[guarded].outcome == "protected" and "mlcost:protect=true" in done[guarded].detail
    assert done[notebook].outcome == "acted" and "stopped notebook" in done[notebook].detail
    names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    assert names == ["llm-prod"]  # deleted; the protected one stays
    assert sm.describe_endpoint_config(EndpointConfigName="llm-chat-config")  # kept
    assert sm.describe_notebook_instance(NotebookInstanceName="nb-alice")[
        "NotebookInstanceStatus"
    ] in ("Stopping", "Stopped")

    again = by_resource(enforce(wh, policies, execute=True, actor="test"))
    assert again[endpoint].detail == "already deleted"
    assert again[notebook].detail in ("already stopped", "already stopping")
    assert _audit(wh) == sorted(
        [
            ("dry-run", endpoint, "marked"),  # the first violation marks it (no grace)
            ("dry-run", endpoint, "would-act"),
            ("dry-run", guarded, "protected"),
            ("dry-run", notebook, "marked"),
            ("dry-run", notebook, "would-act"),
            ("execute", endpoint, "acted"),
            ("execute", guarded, "protected"),
            ("execute", notebook, "acted"),
            ("execute", endpoint, "skipped"),
            ("execute", guarded, "protected"),
            ("execute", notebook, "skipped"),
        ]
    )


# --- Slurm ----------------------------------------------------------------------------------

# scancel and squeue as small programs on PATH: they log their argv and keep job states in
# files, standing in for slurmctld (docs/budgets.md says why not a real one).
_SQUEUE = """#!{python}
import json, pathlib, sys
state = pathlib.Path({state!r})
with open(state / "argv.log", "a") as log:
    log.write(json.dumps(sys.argv) + "\\n")
job = sys.argv[-1]
fmt = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--format="))
path = state / job
if not path.exists():
    sys.stderr.write("slurm_load_jobs error: Invalid job id specified\\n")
    sys.exit(1)
status, comment = path.read_text().split("|")
if any(a.startswith("--clusters=") for a in sys.argv):
    print("CLUSTER: " + next(a for a in sys.argv if a.startswith("--clusters="))[11:])
print(status if fmt == "%T" else comment)
"""
_SCANCEL = """#!{python}
import json, pathlib, sys
state = pathlib.Path({state!r})
with open(state / "argv.log", "a") as log:
    log.write(json.dumps(sys.argv) + "\\n")
path = state / sys.argv[-1]
path.write_text("CANCELLED|" + path.read_text().split("|")[1])
"""


@pytest.fixture
def slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "slurm"
    bindir = tmp_path / "bin"
    state.mkdir()
    bindir.mkdir()
    for name, text in (("squeue", _SQUEUE), ("scancel", _SCANCEL)):
        exe = bindir / name
        exe.write_text(text.format(python=sys.executable, state=str(state)))
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return state


def test_long_slurm_jobs_are_cancelled_with_scancel(wh: Warehouse, slurm: Path) -> None:
    (slurm / "101").write_text("RUNNING|")
    (slurm / "102").write_text("RUNNING|mlcost:protect=true,owner=alice")
    (slurm / "103").write_text("RUNNING|")
    (slurm / "104").write_text("COMPLETED|")

    jobs = ("slurm:101", "slurm:102", "slurm:gpu-a:103", "slurm:104", "slurm:105")  # 105: purged
    put(wh, "workloads", [running_job(w) for w in jobs])
    policies = long_jobs()
    now = T0 + timedelta(hours=100)
    dry = by_resource(enforce(wh, policies, now=now, actor="test"))
    assert dry["slurm:101"].outcome == "would-act" and "(running)" in dry["slurm:101"].detail
    log = slurm / "argv.log"
    assert not any("scancel" in line for line in log.read_text().splitlines())

    done = by_resource(enforce(wh, policies, now=now, execute=True, actor="test"))
    assert {r: d.outcome for r, d in done.items()} == {
        "slurm:101": "acted",
        "slurm:102": "protected",
        "slurm:gpu-a:103": "acted",
        "slurm:104": "skipped",
        "slurm:105": "skipped",
    }
    assert done["slurm:102"].detail == "protected: mlcost:protect=true"
    assert (done["slurm:104"].detail, done["slurm:105"].detail) == (
        "already completed",
        "already gone",
    )
    cancels = [json.loads(x)[1:] for x in log.read_text().splitlines() if "scancel" in x]
    assert cancels == [["101"], ["--clusters=gpu-a", "103"]]
    assert (slurm / "101").read_text() == "CANCELLED|"
    assert (slurm / "102").read_text().startswith("RUNNING")


def test_slurm_without_its_binaries_fails_and_says_so(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    put(wh, "workloads", [{**workload("slurm:7", "n", 0, 0, 1, kind="x"), "end": None}])
    policies = parse_policies(
        {"long": {"kind": "max-duration", "max_hours": {"*": 1}, "executor": "slurm"}}
    )
    (d,) = enforce(wh, policies, now=T0 + timedelta(hours=2), execute=True, actor="test")
    assert d.outcome == "failed" and "squeue is not on PATH" in d.detail


# --- Kubernetes -----------------------------------------------------------------------------


@dataclass
class FakeKube:
    """The few Kubernetes API endpoints the executor uses, over real HTTP on loopback."""

    url: str = ""
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str, Any]] = field(default_factory=list)


def _meta(ns: str, name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ns,
        "labels": item.get("labels", {}),
        "annotations": item.get("annotations", {}),
    }


def _answer(kube: FakeKube, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
    # /apis/apps/v1/namespaces/NS/deployments/NAME[/scale], /api/v1/namespaces/NS/pods/NAME
    if parts[:3] == ["apis", "apps", "v1"] and parts[5:6] == ["deployments"]:
        ns, name = parts[4], parts[6]
        dep = kube.deployments.get((ns, name))
        if dep is None:
            return 404, None
        if parts[7:] == ["scale"]:
            if method == "PATCH":
                dep["replicas"] = body["spec"]["replicas"]
            return 200, {
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": dep["replicas"]},
                "status": {"replicas": dep["replicas"]},
            }
        container = {"name": "server", "image": "vllm/vllm-openai:latest"}
        return 200, {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(ns, name, dep),
            "spec": {
                "replicas": dep["replicas"],
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [container]},
                },
            },
        }
    if parts[:2] == ["api", "v1"] and parts[4:5] == ["pods"]:
        ns, name = parts[3], parts[5]
        pod = kube.pods.get((ns, name))
        if pod is None:
            return 404, None
        if method == "DELETE":
            del kube.pods[(ns, name)]
        return 200, {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta(ns, name, pod),
            "spec": {"containers": [{"name": "notebook", "image": "jupyter/base"}]},
            "status": {"phase": pod["phase"]},
        }
    return 404, None


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    state = FakeKube()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = self.path.split("?")[0]
            state.requests.append((self.command, path, self.headers.get("Content-Type", ""), body))
            code, answer = _answer(state, self.command, path.strip("/").split("/"), body)
            if answer is None:
                answer = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
                answer["reason"] = "NotFound"
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_DELETE = _serve

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_idle_kubernetes_deployment_scaled_to_zero_and_pod_deleted(
    wh: Warehouse, kube: FakeKube, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))  # no cluster of the developer's
    kube.deployments[("ml", "llm-serve")] = {"replicas": 3, "labels": {"team": "nlp"}}
    kube.deployments[("ml", "keep")] = {"replicas": 2, "annotations": {"mlcost/protect": "true"}}
    kube.pods[("ml", "nb-0")] = {"phase": "Running"}
    ids = ["k8s:ml/deployment/llm-serve", "k8s:ml/deployment/keep", "k8s:ml/pod/nb-0"]
    _idle_for_two_hours(wh, *ids)
    policies = parse_policies(
        {"idle-k8s": {"kind": "idle", "executor": "kubernetes", "endpoint_url": kube.url}}
    )

    dry = by_resource(enforce(wh, policies, actor="test"))
    assert [dry[i].outcome for i in ids] == ["would-act", "protected", "would-act"]
    assert not [r for r in kube.requests if r[0] != "GET"]  # dry-run only reads

    done = by_resource(enforce(wh, policies, execute=True, actor="test"))
    assert [done[i].outcome for i in ids] == ["acted", "protected", "acted"]
    assert "scaled 3 -> 0 replicas" in done[ids[0]].detail
    assert done[ids[1]].detail == "protected: mlcost:protect=true"
    writes = [r for r in kube.requests if r[0] != "GET"]
    assert writes == [
        (
            "PATCH",
            "/apis/apps/v1/namespaces/ml/deployments/llm-serve/scale",
            "application/strategic-merge-patch+json",
            {"spec": {"replicas": 0}},
        ),
        ("DELETE", "/api/v1/namespaces/ml/pods/nb-0", "", None),
    ]
    assert kube.deployments[("ml", "llm-serve")]["replicas"] == 0
    assert kube.deployments[("ml", "keep")]["replicas"] == 2
    assert ("ml", "nb-0") not in kube.pods

    again = by_resource(enforce(wh, policies, execute=True, actor="test"))
    assert [again[i].detail for i in ids] == [
        "already scaled-to-zero",
        "protected: mlcost:protect=true",
        "already deleted",
    ]


def test_kubernetes_without_a_cluster_fails_and_says_so(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    _idle_for_two_hours(wh, "k8s:ml/pod/nb-0")
    policies = parse_policies({"p": {"kind": "idle", "executor": "kubernetes"}})
    (d,) = enforce(wh, policies, execute=True, actor="test")
    assert d.outcome == "failed" and "no kubeconfig" in d.detail


# --- Local processes --------------------------------------------------------------------------


def test_local_process_acts_only_on_its_own_recorded_process(wh: Warehouse, tmp_path: Path) -> None:
    import signal
    import subprocess

    from mlcost.policies import LocalProcessExecutor

    ours, foreign, reused = (subprocess.Popen(["sleep", "60"]) for _ in range(3))
    try:
        ex = LocalProcessExecutor(folder=tmp_path / "records")
        LocalProcessExecutor.record(ours.pid, folder=ex.folder)
        # A record made for an earlier process that had the PID `reused` has now: same PID,
        # another start time (what /proc shows after the PID wraps around).
        path = LocalProcessExecutor.record(reused.pid, folder=ex.folder)
        old = json.loads(path.read_text())
        path.write_text(json.dumps({**old, "start_ticks": old["start_ticks"] - 100}))
        # Only an id of its own kind, from its start: a Slurm job on cluster "local" is not PID 1.
        assert ex.target("slurm:local:1") is None and ex.target("job-pid:7") is None
        assert ex.target(f"local:{ours.pid}") == str(ours.pid)
        ids = [f"local:{ours.pid}", f"pid:{foreign.pid}", f"local:{reused.pid}", "slurm:local:1"]
        put(wh, "workloads", [running_job(i) for i in ids])
        policies = parse_policies(
            {"long": {"kind": "max-duration", "max_hours": {"*": 1}, "executor": "local-process"}}
        )
        decisions = by_resource(
            enforce(
                wh,
                policies,
                execute=True,
                now=T0 + timedelta(hours=2),
                actor="test",
                executors={"local-process": ex},
            )
        )
        done = decisions[f"local:{ours.pid}"]
        assert (done.outcome, done.detail) == ("acted", f"sent SIGTERM to pid {ours.pid}")
        assert ours.wait(timeout=10) == -signal.SIGTERM
        refused = decisions[f"pid:{foreign.pid}"]
        assert refused.outcome == "failed" and "no record" in refused.detail
        stale = decisions[f"local:{reused.pid}"]
        assert (stale.outcome, stale.detail) == ("skipped", "already terminated")
        slurm = decisions["slurm:local:1"]
        assert slurm.outcome == "skipped" and "not a resource local-process acts on" in slurm.detail
        assert foreign.poll() is None and reused.poll() is None  # never signalled
        # A recorded PID that now runs another command is refused too.
        path.write_text(json.dumps({**old, "cmdline": ["python", "train.py"]}))
        with pytest.raises(ExecutorError, match=r"not the recorded 'python train\.py'"):
            ex.act("stop", str(reused.pid))
        assert reused.poll() is None
    finally:
        for proc in (ours, foreign, reused):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# scancel that kills the enforcing process (its parent) mid-action, before it can answer.
_SCANCEL_KILLS_PARENT = """#!{python}
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
"""

_ENFORCE = """
import sys
from datetime import datetime
from mlcost import open_warehouse
from mlcost.config import parse_policies
from mlcost.policies import enforce
table = {"kind": "max-duration", "max_hours": {"training": 72}, "action": "scancel"}
policies = parse_policies({"long": {**table, "executor": "slurm"}})
with open_warehouse(sys.argv[1]) as wh:
    enforce(wh, policies, now=datetime.fromisoformat(sys.argv[2]), execute=True, actor="t")
"""


def test_an_enforcer_killed_mid_action_leaves_its_intent_row(
    wh_url: str, slurm: Path, tmp_path: Path
) -> None:
    import subprocess

    from mlcost import open_warehouse

    (slurm / "101").write_text("RUNNING|")
    scancel = tmp_path / "bin" / "scancel"
    scancel.write_text(_SCANCEL_KILLS_PARENT.format(python=sys.executable))
    with open_warehouse(wh_url) as w:
        put(w, "workloads", [running_job("slurm:101")])
    now = (T0 + timedelta(hours=100)).isoformat()
    proc = subprocess.run(
        [sys.executable, "-c", _ENFORCE, wh_url, now], capture_output=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr.decode()  # killed inside act
    with open_warehouse(wh_url, read_only=True) as w:
        rows = w.table("actions").to_pyarrow().to_pylist()
    assert [(r["resource_id"], r["action"], r["mode"], r["outcome"]) for r in rows] == [
        ("slurm:101", "mark", "execute", "marked"),  # the mark (no grace) comes first
        ("slurm:101", "scancel", "execute", "started"),
    ]
