"""A moto server on loopback for the AWS executors: boto3 talks HTTP to it, nothing patched."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcost.config import PolicyConfig, parse_policies
from tests.attribution.conftest import workload
from tests.notify.conftest import Receiver, receiver

__all__ = ["Receiver", "receiver"]  # the webhook receiver on loopback, shared with notify


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """boto3 with test credentials, and a moto server emptied for this test."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import boto3

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    ).close()
    return boto3


@pytest.fixture
def ec2(aws: Any, moto_url: str) -> Any:
    return aws.client("ec2", region_name="us-east-1", endpoint_url=moto_url)


def long_jobs() -> tuple[PolicyConfig, ...]:
    """Training jobs over 72 hours get scancel."""
    table = {"kind": "max-duration", "max_hours": {"training": 72}, "action": "scancel"}
    return parse_policies({"long": {**table, "executor": "slurm"}})


def running_job(wid: str, start: float = 0) -> dict[str, Any]:
    """A running training workload started ``start`` hours after T0."""
    return {**workload(wid, "node", start, start, 8, kind="training"), "end": None}


def by_resource(decisions: list[Any]) -> dict[str, Any]:
    return {d.violation.resource_id: d for d in decisions}


def launch(ec2: Any, tags: dict[str, str], instance_type: str = "g5.xlarge") -> str:
    """Start one instance in moto with ``tags``; its id (moto picks it)."""
    spec = {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    out = ec2.run_instances(
        ImageId="ami-12c6146b",
        InstanceType=instance_type,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[spec] if tags else [],
    )
    return str(out["Instances"][0]["InstanceId"])


def instance_state(ec2: Any, iid: str) -> str:
    """The instance's state name as EC2 gives it (running, stopping, stopped, ...)."""
    found = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    return str(found["State"]["Name"])
