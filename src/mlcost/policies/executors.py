"""Executors: what acts on the real systems. Each declares the actions it can take.

Built: AWS EC2 (stop, terminate through boto3) and local processes (stop = SIGTERM,
terminate = SIGKILL, for runs of the in-process tracker); the registry names the ones still
to come so a policy that needs them is reported as unsupported, never skipped
in silence. boto3 is imported only when an executor is made.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from mlcost.errors import MlcostError

__all__ = [
    "EXECUTORS",
    "PLANNED",
    "Ec2Executor",
    "Executor",
    "ExecutorError",
    "LocalProcessExecutor",
    "make_executor",
]

_INSTANCE = re.compile(r"\bi-[0-9a-f]{8,17}\b")


class ExecutorError(MlcostError, RuntimeError):
    """An executor could not act on a resource (the audit row says why)."""


class Executor(Protocol):
    """Acts on one kind of resource."""

    name: str
    actions: frozenset[str]

    def target(self, resource_id: str) -> str | None:
        """The id this executor acts on for a warehouse resource id, or None if not its kind."""

    def tags(self, target: str) -> Mapping[str, str]:
        """The resource's live tags (the protect tag is read here, not from old bills)."""

    def state(self, target: str) -> str:
        """The resource's state as its system names it (running, stopped, ...)."""

    def act(self, action: str, target: str) -> str:
        """Take ``action``; return what the system answered."""


class Ec2Executor:
    """EC2 instances: ``stop`` and ``terminate``.

    ``endpoint_url`` points boto3 at another endpoint (a moto server in the tests).
    """

    name = "aws-ec2"
    actions = frozenset({"stop", "terminate"})

    def __init__(self, *, region: str = "us-east-1", endpoint_url: str | None = None) -> None:
        import boto3

        self._ec2: Any = boto3.client("ec2", region_name=region, endpoint_url=endpoint_url or None)

    def target(self, resource_id: str) -> str | None:
        match = _INSTANCE.search(resource_id)
        return match.group(0) if match else None

    def _instance(self, target: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            found = self._ec2.describe_instances(InstanceIds=[target])
        except ClientError as exc:
            raise ExecutorError(f"{target}: {exc}") from exc
        for reservation in found["Reservations"]:
            for inst in reservation["Instances"]:
                return dict(inst)
        raise ExecutorError(f"{target}: no such instance")

    def tags(self, target: str) -> Mapping[str, str]:
        return {t["Key"]: t["Value"] for t in self._instance(target).get("Tags", [])}

    def state(self, target: str) -> str:
        return str(self._instance(target)["State"]["Name"])

    def act(self, action: str, target: str) -> str:
        from botocore.exceptions import ClientError

        try:
            if action == "stop":
                out = self._ec2.stop_instances(InstanceIds=[target])["StoppingInstances"]
            elif action == "terminate":
                out = self._ec2.terminate_instances(InstanceIds=[target])["TerminatingInstances"]
            else:
                raise ExecutorError(f"{self.name} cannot {action!r}")
        except ClientError as exc:
            raise ExecutorError(f"{target}: {exc}") from exc
        change = out[0]
        return f"{change['PreviousState']['Name']} -> {change['CurrentState']['Name']}"


class LocalProcessExecutor:
    """Processes on this machine, named ``pid:<n>`` or ``local:<n>`` (the tracker's runs).

    They have no tags, so nothing here is protected by tag; ``stop`` sends SIGTERM (the
    tracker saves a checkpoint on it), ``terminate`` SIGKILL.
    """

    name = "local-process"
    actions = frozenset({"stop", "terminate"})
    _PID = re.compile(r"\b(?:pid|local)[:=](\d+)\b")

    def __init__(self, **_options: Any) -> None:
        pass

    def target(self, resource_id: str) -> str | None:
        match = self._PID.search(resource_id)
        return match.group(1) if match else None

    def tags(self, target: str) -> Mapping[str, str]:
        return {}

    def state(self, target: str) -> str:
        try:
            os.kill(int(target), 0)
        except ProcessLookupError:
            return "terminated"
        except PermissionError:
            return "running"  # someone else's: act() will say it may not
        return "running"

    def act(self, action: str, target: str) -> str:
        sig = {"stop": signal.SIGTERM, "terminate": signal.SIGKILL}.get(action)
        if sig is None:
            raise ExecutorError(f"{self.name} cannot {action!r}")
        try:
            os.kill(int(target), sig)
        except OSError as exc:
            raise ExecutorError(f"pid {target}: {exc}") from exc
        return f"sent {sig.name} to pid {target}"


# executor name -> a factory; PLANNED: named in issue 8, not built yet.
EXECUTORS: dict[str, Callable[..., Executor]] = {
    "aws-ec2": Ec2Executor,
    "local-process": LocalProcessExecutor,
}
PLANNED = ("aws-sagemaker", "kubernetes", "slurm")


def make_executor(name: str, **options: Any) -> Executor | None:
    """The executor called ``name``, or None if mlcost has none by that name (yet)."""
    cls = EXECUTORS.get(name)
    return None if cls is None else cls(**options)
