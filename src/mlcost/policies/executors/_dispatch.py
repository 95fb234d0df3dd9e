"""Which executor acts on a resource: chosen by what the resource is, never by a host name.

:func:`executor_for` reads the resource's identity (``attribution.identity``: its id or ARN,
provider, account, region, service and ``resource_type``) and returns the executor for that
type, made for the resource's region, or an :class:`Unexecutable` that says why not and the
fix (no credentials, no client library, a telemetry host no bill names, a type mlcost has no
executor for, a policy whose ``executor`` names another kind).
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlcost.attribution.identity import Identity, resource_type, short_id
from mlcost.config import redact
from mlcost.policies.executors._aws import CREDENTIALS_FIX, Ec2Executor, SageMakerExecutor
from mlcost.policies.executors._base import Executor, ExecutorError
from mlcost.policies.executors._kubernetes import KubernetesExecutor
from mlcost.policies.executors._local import LocalProcessExecutor
from mlcost.policies.executors._slurm import SlurmExecutor

if TYPE_CHECKING:
    from mlcost.config import PolicyConfig

__all__ = [
    "AUTO",
    "EXECUTORS",
    "EXECUTOR_BY_TYPE",
    "Unexecutable",
    "executor_for",
    "make_executor",
]

# executor name -> a factory taking the policy's region and endpoint_url.
EXECUTORS: dict[str, Callable[..., Executor]] = {
    "aws-ec2": Ec2Executor,
    "aws-sagemaker": SageMakerExecutor,
    "kubernetes": KubernetesExecutor,
    "local-process": LocalProcessExecutor,
    "slurm": SlurmExecutor,
}
# What a resource is (attribution.identity.resource_type) -> the executor that acts on it.
EXECUTOR_BY_TYPE = {
    "ec2-instance": "aws-ec2",
    "sagemaker-endpoint": "aws-sagemaker",
    "sagemaker-notebook": "aws-sagemaker",
    "k8s-deployment": "kubernetes",
    "k8s-pod": "kubernetes",
    "slurm-job": "slurm",
    "local-process": "local-process",
}
AUTO = "auto"  # a policy's executor: the one for each resource's type
_AWS = frozenset({"aws-ec2", "aws-sagemaker"})
_ARN_REGION = re.compile(r"^arn:aws[\w-]*:[\w-]+:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):")
# Why mlcost cannot act on a type it recognizes, and what to do instead.
_NO_EXECUTOR = {
    "sagemaker-training": (
        "mlcost has no executor for SageMaker training jobs",
        "stop it with `aws sagemaker stop-training-job --training-job-name NAME`, or give the "
        "job a StoppingCondition.MaxRuntimeInSeconds",
    ),
    "tracker-run": (
        "a tracker run names no process mlcost can prove is its own",
        "stop it from inside with the tracker's own limits (mlcost.track(max_cost=…, "
        "max_hours=…)), or act on the billed resource it runs on",
    ),
}


@dataclass(frozen=True)
class Unexecutable:
    """No executor can act on the resource: ``reason`` says why, ``fix`` what to do.

    ``decision``: what the enforce loop records: ``failed`` (a fault to fix: no
    credentials, no client), ``unsupported`` (mlcost has no such executor or action) or
    ``skipped`` (the policy's ``executor`` names another kind of resource: out of scope).
    """

    reason: str
    fix: str
    decision: str = "failed"

    def __str__(self) -> str:
        return f"{self.reason}. Fix: {self.fix}"


def make_executor(name: str, **options: Any) -> Executor | None:
    """The executor called ``name``, or None if mlcost has none by that name."""
    cls = EXECUTORS.get(name)
    return None if cls is None else cls(**options)


def _identity(resource: Identity | str) -> Identity:
    if isinstance(resource, Identity):
        return resource
    rid = str(resource)
    return Identity(rid, short_id(rid), None, None, None, None, resource_type=resource_type(rid))


def _region(who: Identity, settings: PolicyConfig | None) -> str:
    """The ARN's region, else the bill's, else the policy's (default us-east-1)."""
    match = _ARN_REGION.match(who.resource_id)
    if match:
        return match.group("region")
    return who.region or (settings.region if settings else "") or "us-east-1"


def _describe(who: Identity, kind: str | None, region: str) -> str:
    """``i-0abc (ec2-instance, account 1234, region eu-west-1)``: what the reason names."""
    facts = [kind or "unknown type"]
    if who.provider:
        facts.append(who.provider)
    if who.account:
        facts.append(f"account {who.account}")
    if region:
        facts.append(f"region {region}")
    name = who.resource_id
    if who.resource_name and who.resource_name != who.resource_id:
        name = f"{who.resource_name} ({who.resource_id})"
    return f"{name} [{', '.join(facts)}]"


def _unknown(who: Identity, kind: str | None) -> Unexecutable:
    if kind in _NO_EXECUTOR:
        why, fix = _NO_EXECUTOR[kind]
        return Unexecutable(
            f"{_describe(who, kind, who.region or '')}: {why}", fix, decision="unsupported"
        )
    if who.provider is None and kind is None:
        # What _identified keeps when nothing links a source's name to a bill.
        return Unexecutable(
            f"{who.resource_id!r} is a telemetry host name with no billed resource, so mlcost "
            "does not know which instance to act on",
            "link it to its bill: a host links when its name is the instance id, the bill's "
            "ResourceName (the instance's Name tag) or that name's first DNS label; load the "
            "bill that has it, or name the host so (`mlcost sources --unmatched` lists names "
            "nothing links)",
        )
    known = ", ".join(sorted(EXECUTOR_BY_TYPE))
    return Unexecutable(
        f"{_describe(who, kind, who.region or '')}: mlcost has no executor for this type"
        + (f" (service {who.service})" if who.service else ""),
        f"act on it by hand, or scope the policy to types mlcost acts on: {known}",
        decision="unsupported",
    )


def executor_for(
    resource: Identity | str,
    settings: PolicyConfig | None = None,
    *,
    made: MutableMapping[Any, Executor | Unexecutable] | None = None,
) -> Executor | Unexecutable:
    """The executor that acts on ``resource``, chosen by what it is, or why none can.

    ``resource``: its identity (``attribution.identity``; a bare id is classified by its
    shape). ``settings``: the policy (its ``executor``: ``"auto"`` or the one name it may
    use; its ``action``, checked against the executor's; ``region`` where neither the ARN nor
    the bill says one; ``endpoint_url``). ``made``: executors already made, reused by
    executor name (an override) or by name, region and endpoint (a cache).

    The executor acts on ``executor.target(resource.resource_id)``. AWS executors need
    credentials: without any, the answer is an :class:`Unexecutable` naming the account and
    region and how to give them (no request is sent).

    >>> executor_for("slurm:gpu-a:17").name
    'slurm'
    >>> print(executor_for("vision-dev-big").reason)  # doctest: +ELLIPSIS
    'vision-dev-big' is a telemetry host name with no billed resource, ...
    """
    who = _identity(resource)
    kind = who.resource_type or resource_type(who.resource_id, service=who.service)
    name = EXECUTOR_BY_TYPE.get(kind or "")
    wanted = settings.executor if settings else AUTO
    policy = f"[policies.{settings.name}]" if settings else "the policy"
    if wanted != AUTO and wanted not in EXECUTORS:
        return Unexecutable(
            f"no executor {wanted!r}; mlcost has {', '.join(EXECUTORS)}",
            f'set executor = "auto" in {policy} (the executor for each resource\'s type)',
            decision="unsupported",
        )
    if name is None:
        return _unknown(who, kind)
    if wanted not in (AUTO, name):
        return Unexecutable(
            f"{_describe(who, kind, '')} is not a resource {wanted} acts on ({name} acts "
            f"on a {kind})",
            f'set executor = "auto" (or "{name}") in {policy} if it should act on it',
            decision="skipped",
        )
    actions: frozenset[str] = getattr(EXECUTORS[name], "actions", frozenset())
    if settings is not None and settings.action not in actions:
        return Unexecutable(
            f"{name} can {', '.join(sorted(actions))}",
            f"set action to one of them in {policy}",
            decision="unsupported",
        )
    region = _region(who, settings) if name in _AWS else ""
    endpoint = settings.endpoint_url if settings else ""
    cluster = (who.cluster or "") if name == "kubernetes" else ""
    cache = made if made is not None else {}
    key = (name, region, endpoint, cluster)
    if name in cache:  # an executor given by name (tests, a caller's own)
        return cache[name]
    if key not in cache:
        cache[key] = _make(name, region, endpoint, cluster)
    built = cache[key]
    if isinstance(built, Unexecutable):
        return Unexecutable(f"{_describe(who, kind, region)}: {built.reason}", built.fix)
    return built


def _make(name: str, region: str, endpoint: str, cluster: str) -> Executor | Unexecutable:
    """The executor ``name`` for ``region``, ``endpoint`` and a Kubernetes ``cluster``, or
    why it cannot be made."""
    try:
        if name in _AWS:
            import boto3
            from botocore.exceptions import BotoCoreError

            try:
                found = boto3.Session().get_credentials()
            except BotoCoreError as exc:  # AWS_PROFILE names no profile, a bad config file
                return Unexecutable(redact(str(exc)), CREDENTIALS_FIX)
            if found is None:
                return Unexecutable("no AWS credentials found", CREDENTIALS_FIX)
            return EXECUTORS[name](region=region, endpoint_url=endpoint or None)
        if name == "kubernetes":
            return EXECUTORS[name](endpoint_url=endpoint or None, cluster=cluster or None)
        return EXECUTORS[name](endpoint_url=endpoint or None)
    except ExecutorError as exc:
        return Unexecutable(exc.problem, exc.fix or "see docs/budgets.md, Executors")
    except ImportError as exc:
        extra = "kubernetes" if name == "kubernetes" else "aws"
        return Unexecutable(f"{exc}", f"install it with pip install 'mlcost[{extra}]'")
