"""executor_for: the executor is chosen by what the resource is (its billed identity), never by
a telemetry host name; what no executor can act on says why and how to fix it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mlcost import Warehouse
from mlcost.attribution.identity import identify, workload_identity
from mlcost.config import PolicyConfig, parse_policies
from mlcost.policies import check, enforce
from mlcost.policies.executors import (
    Ec2Executor,
    KubernetesExecutor,
    LocalProcessExecutor,
    SageMakerExecutor,
    SlurmExecutor,
    Unexecutable,
    executor_for,
)
from tests.attribution.conftest import ACCOUNT, T0, line, put, sample

pytest.importorskip("boto3")

EC2 = "Amazon Elastic Compute Cloud"


@pytest.fixture(autouse=True)
def aws_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials that only need to exist: nothing here sends a request."""
    for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(key, str(tmp_path / "none"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _policy(**table: Any) -> PolicyConfig:
    (p,) = parse_policies({"p": {"kind": "idle", **table}})
    return p


def test_ec2_from_its_arn_or_bare_instance_id_in_the_region_of_the_bill(wh: Warehouse) -> None:
    arn = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0aaa12345678def00"
    bare = "i-0bbb12345678def00"  # CUR's lineItem/ResourceId: no ARN, the region on the row
    put(
        wh,
        "cost_line_items",
        [
            line("3", resource=arn, gpus=1, RegionId="eu-west-1", ServiceName=EC2),
            line("3", resource=bare, gpus=1, RegionId="ap-south-1", ServiceName=EC2),
        ],
    )
    found = identify(wh, [arn, bare])
    policy = _policy()  # region us-east-1 by default: the bill's wins
    for rid, region, iid in ((arn, "eu-west-1", arn[-19:]), (bare, "ap-south-1", bare)):
        who = found[rid]
        assert (who.provider, who.account, who.region) == ("AWS", ACCOUNT, region)
        assert (who.service, who.resource_type) == (EC2, "ec2-instance")
        ex = executor_for(who, policy)
        assert isinstance(ex, Ec2Executor) and ex.region == region
        assert ex.target(who.resource_id) == iid


def test_sagemaker_endpoint_and_notebook_arns_go_to_sagemaker_in_their_region() -> None:
    acct = "123456789012"
    for kind, rtype in (
        ("endpoint", "sagemaker-endpoint"),
        ("notebook-instance", "sagemaker-notebook"),
    ):
        arn = f"arn:aws:sagemaker:us-west-2:{acct}:{kind}/llm-chat"
        ex = executor_for(arn, _policy())
        assert isinstance(ex, SageMakerExecutor) and ex.region == "us-west-2", rtype
        assert ex.target(arn) == arn
    # A training job is SageMaker's too, but no executor stops one: said, with the way.
    job = executor_for(f"arn:aws:sagemaker:us-west-2:{acct}:training-job/llm-ft-3", _policy())
    assert isinstance(job, Unexecutable) and job.decision == "unsupported"
    assert "stop-training-job" in job.fix


def _allocation(pod: str, **props: str) -> dict[str, Any]:
    """One pod of an OpenCost /allocation response (opencost/core/pkg/opencost)."""
    return {
        "name": pod,
        "properties": {"cluster": "eks-a", "node": "ip-10-0-1-5.ec2.internal", "pod": pod}
        | {"namespace": "ml", "container": "main"}
        | props,
        "start": "2026-05-01T00:00:00Z",
        "end": "2026-05-01T06:00:00Z",
        "minutes": 360.0,
        "gpuCount": 1.0,
        "gpuHours": 6.0,
        "totalCost": 7.5,
    }


def test_kubernetes_deployment_and_pod_from_opencost_workloads(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcost.sources.opencost import ingest_opencost

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))  # no cluster but the endpoint
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    pods = {
        # A deployment's pod: acting on the pod alone would bring it back; the deployment.
        "ranker-7d9f8-x2kq": {"controllerKind": "deployment", "controller": "ranker"},
        "nb-0": {},  # a bare pod
        "db-0": {"controllerKind": "statefulset", "controller": "db"},
    }
    body = {"code": 200, "data": [{p: _allocation(p, **k) for p, k in pods.items()}]}
    (tmp_path / "allocation.json").write_text(json.dumps(body))
    ingest_opencost(wh, tmp_path / "allocation.json")
    w = wh.table("workloads").select("workload_id", "tags").to_pyarrow().to_pylist()
    who = {r["workload_id"]: workload_identity(r["workload_id"], tags=dict(r["tags"])) for r in w}
    policy = _policy(endpoint_url="http://127.0.0.1:9")  # made only; nothing is sent
    ranker = who["opencost:eks-a/ml/ranker-7d9f8-x2kq/main"]
    assert (ranker.resource_id, ranker.resource_type) == (
        "k8s:ml/deployment/ranker",
        "k8s-deployment",
    )
    ex = executor_for(ranker, policy)
    assert (
        isinstance(ex, KubernetesExecutor)
        and ex.target(ranker.resource_id) == "ml/deployment/ranker"
    )
    nb = who["opencost:eks-a/ml/nb-0/main"]
    assert (nb.resource_id, nb.resource_type) == ("k8s:ml/pod/nb-0", "k8s-pod")
    pod = executor_for(nb, policy)
    assert isinstance(pod, KubernetesExecutor) and pod.target(nb.resource_id) == "ml/pod/nb-0"
    db = executor_for(who["opencost:eks-a/ml/db-0/main"], policy)
    assert isinstance(db, Unexecutable) and db.decision == "unsupported"
    assert "k8s-statefulset" in db.reason and "no executor for this type" in db.reason


def test_slurm_jobs_and_local_processes_by_their_exact_ids() -> None:
    for job, target in (("slurm:123", "123"), ("slurm:gpu-a:17", "gpu-a:17"), ("slurm:9_3", "9_3")):
        ex = executor_for(job, _policy())
        assert isinstance(ex, SlurmExecutor) and ex.target(job) == target
    local = executor_for("local:4242", _policy())
    assert isinstance(local, LocalProcessExecutor) and local.target("local:4242") == "4242"
    # A Slurm job on a cluster named "local" is a Slurm job, never PID 1.
    assert isinstance(executor_for("slurm:local:1", _policy()), SlurmExecutor)
    named = executor_for("slurm:local:1", _policy(executor="local-process"))
    assert isinstance(named, Unexecutable) and named.decision == "skipped"
    assert "not a resource local-process acts on" in named.reason
    assert 'executor = "auto" (or "slurm")' in named.fix


def test_a_telemetry_host_with_no_billed_resource_is_not_acted_on_and_says_how_to_link_it(
    wh: Warehouse,
) -> None:
    put(wh, "gpu_samples", [sample("vision-dev-big", m / 60, 0.01) for m in range(0, 121, 10)])
    (v,) = check(wh, [_policy()])
    assert (v.resource_id, v.resource_type, v.provider) == ("vision-dev-big", None, None)
    (d,) = enforce(wh, [_policy()], execute=True, actor="test")
    assert d.outcome == "failed"
    assert "'vision-dev-big' is a telemetry host name with no billed resource" in d.detail
    assert "mlcost sources --unmatched" in d.detail and "ResourceName" in d.detail
    # Once the bill names it (ResourceName = the host name), it is the billed instance.
    arn = f"arn:aws:ec2:us-west-2:{ACCOUNT}:instance/i-0ccc12345678def00"
    put(wh, "cost_line_items", [line("9", resource=arn, gpus=8, ResourceName="vision-dev-big")])
    (v,) = check(wh, [_policy()], now=T0 + timedelta(hours=2))
    assert (v.resource_id, v.resource_name, v.region) == (arn, "vision-dev-big", None)
    assert (v.resource_type, v.executor) == ("ec2-instance", "aws-ec2")
    ex = executor_for(v.identity(), _policy())
    assert isinstance(ex, Ec2Executor) and ex.region == "us-west-2"  # from the ARN


def test_a_billed_type_without_an_executor_and_missing_credentials_say_why(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = "//compute.googleapis.com/projects/ml-prod/zones/us-central1-a/instances/tpu-host-1"
    put(
        wh,
        "cost_line_items",
        [
            line(
                "5",
                resource=vm,
                gpus=4,
                ServiceProviderName="Google Cloud",
                ServiceName="Compute Engine",
                ResourceType="Compute Instance",
                RegionId="us-central1",
            )
        ],
    )
    gcp = executor_for(identify(wh, [vm])[vm], _policy())
    assert isinstance(gcp, Unexecutable) and gcp.decision == "unsupported"
    assert "compute-instance, Google Cloud" in gcp.reason and "Compute Engine" in gcp.reason
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    arn = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0ddd12345678def00"
    put(wh, "cost_line_items", [line("3", resource=arn, gpus=1, RegionId="eu-west-1")])
    none = executor_for(identify(wh, [arn])[arn], _policy())
    assert isinstance(none, Unexecutable) and none.decision == "failed"
    assert f"account {ACCOUNT}, region eu-west-1]: no AWS credentials found" in none.reason
    assert "AWS_PROFILE" in none.fix
