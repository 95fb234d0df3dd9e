"""AWS executors through boto3 (imported when one is made): EC2 instances and SageMaker
endpoints and notebook instances.

boto3's own retries are off (``total_max_attempts = 1``) and its timeouts short, so that
:func:`~mlcost.policies.executors.run_action` is the one place that retries, with its own
backoff and count; every botocore error becomes an :class:`ExecutorError` that says whether
a retry may pass (:func:`aws_error`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlcost.policies.executors._base import ExecutorError

__all__ = ["Ec2Executor", "SageMakerExecutor", "aws_error"]

_INSTANCE = re.compile(r"\bi-[0-9a-f]{8,17}\b")
# Seconds: a stuck endpoint fails the decision, not the whole run (botocore's are 60 s).
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
# Error codes AWS documents as throttling or transient (EC2 API reference, "Common client
# errors" / "Server errors", 2026), retried with backoff like any HTTP 5xx.
_TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "SlowDown",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
    }
)
# Credentials refused or not allowed: retrying cannot help, the operator must act.
_AUTH = frozenset(
    {
        "AuthFailure",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AccessDeniedException",
        "OptInRequired",
    }
)
CREDENTIALS_FIX = (
    "give mlcost AWS credentials for that account: set AWS_PROFILE (a profile in "
    "~/.aws/config), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run it where an "
    "instance or task role applies"
)


def aws_error(target: str, exc: Exception, *, permission: str = "") -> ExecutorError:
    """``exc`` (a botocore error) as an :class:`ExecutorError` that says whether a retry may
    pass and, for credential and permission errors, the fix. ``permission``: the IAM
    action the call needs (named in the fix)."""
    from botocore import exceptions as bex

    # botocore's own retry count (always 0: its retries are off) would contradict ours.
    said = re.sub(r" \(reached max retries: \d+\)", "", str(exc))
    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return ExecutorError(f"{target}: {said}", fix=CREDENTIALS_FIX)
    if isinstance(exc, bex.ConnectionError | bex.HTTPClientError):
        # Refused, unreachable, a timeout, a connection cut mid-answer: may pass later.
        return ExecutorError(f"{target}: {said}", retryable=True)
    if isinstance(exc, bex.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _AUTH or status in (401, 403):
            need = f" (it needs {permission})" if permission else ""
            return ExecutorError(
                f"{target}: {said}",
                fix=f"check the credentials' account and IAM permissions{need}",
            )
        retry = status >= 500 or status == 429 or code in _TRANSIENT
        return ExecutorError(f"{target}: {said}", retryable=retry)
    return ExecutorError(f"{target}: {said}")


class _AwsClients:
    """boto3 clients of one service, one per region, made when first used.

    ``endpoint_url`` points boto3 at another endpoint (a moto server in the tests);
    ``read_timeout`` (seconds) is how long one answer may take before the try counts as a
    timeout (retried).
    """

    service = ""

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.region = region
        self._endpoint_url = endpoint_url or None
        self._read_timeout = read_timeout
        self._clients: dict[str, Any] = {}

    def _api(self, region: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        region = region or self.region
        if region not in self._clients:
            config = Config(
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=self._read_timeout,
            )
            self._clients[region] = boto3.client(
                self.service, region_name=region, endpoint_url=self._endpoint_url, config=config
            )
        return self._clients[region]


class Ec2Executor(_AwsClients):
    """EC2 instances in ``region``: ``stop`` and ``terminate``."""

    name = "aws-ec2"
    service = "ec2"
    actions = frozenset({"stop", "terminate"})
    inactive = frozenset({"stopped", "stopping", "terminated", "shutting-down"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._ec2 = self._api()  # made now: a bad region or endpoint fails at once

    def target(self, resource_id: str) -> str | None:
        match = _INSTANCE.search(resource_id)
        return match.group(0) if match else None

    def _instance(self, target: str) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            found = self._ec2.describe_instances(InstanceIds=[target])
        # BotoCoreError: no credentials, an unreachable endpoint (issue 22: were tracebacks)
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(target, exc, permission="ec2:DescribeInstances") from exc
        for reservation in found["Reservations"]:
            for inst in reservation["Instances"]:
                return dict(inst)
        raise ExecutorError(f"{target}: no such instance")

    def tags(self, target: str) -> Mapping[str, str]:
        return {t["Key"]: t["Value"] for t in self._instance(target).get("Tags", [])}

    def state(self, target: str) -> str:
        return str(self._instance(target)["State"]["Name"])

    def act(self, action: str, target: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if action == "stop":
                out = self._ec2.stop_instances(InstanceIds=[target])["StoppingInstances"]
            elif action == "terminate":
                out = self._ec2.terminate_instances(InstanceIds=[target])["TerminatingInstances"]
            else:
                raise ExecutorError(f"{self.name} cannot {action!r}")
        except (BotoCoreError, ClientError) as exc:
            need = "ec2:StopInstances" if action == "stop" else "ec2:TerminateInstances"
            raise aws_error(target, exc, permission=need) from exc
        change = out[0]
        return f"{change['PreviousState']['Name']} -> {change['CurrentState']['Name']}"


def _kebab(state: str) -> str:
    """``InService`` -> ``in-service``: AWS status names in the style of the others."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "-", state).lower()


_SAGEMAKER = re.compile(
    r"\barn:aws[\w-]*:sagemaker:(?P<region>[\w-]+):\d{12}:"
    r"(?P<kind>endpoint|notebook-instance)/(?P<name>[A-Za-z0-9-]+)"
)


class SageMakerExecutor(_AwsClients):
    """SageMaker endpoints and notebook instances, named by their ARN (the CUR ResourceId).

    ``stop`` on a notebook instance is ``StopNotebookInstance`` (its volume stays; start it
    again at will). ``stop`` or ``delete`` on an endpoint is ``DeleteEndpoint``: the endpoint
    config and model stay, so ``CreateEndpoint`` with the same config brings it back. A
    classic endpoint cannot be scaled to zero instances (only endpoints built from inference
    components can), so deletion is the one action that ends the instance-hours of any
    endpoint. The region comes from the ARN.
    """

    name = "aws-sagemaker"
    service = "sagemaker"
    actions = frozenset({"stop", "delete"})
    inactive = frozenset({"stopped", "stopping", "deleting", "deleted"})

    def _client(self, target: str) -> Any:
        match = _SAGEMAKER.search(target)
        return self._api(match.group("region") if match else None)

    def target(self, resource_id: str) -> str | None:
        match = _SAGEMAKER.search(resource_id)
        return match.group(0) if match else None

    def _describe(self, target: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        match = _SAGEMAKER.search(target)
        assert match is not None
        api = self._client(target)
        try:
            if match.group("kind") == "endpoint":
                return dict(api.describe_endpoint(EndpointName=match.group("name")))
            return dict(api.describe_notebook_instance(NotebookInstanceName=match.group("name")))
        except BotoCoreError as exc:
            raise aws_error(target, exc) from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            missing = ("Could not find", "RecordNotFound")
            if error.get("Code") == "ValidationException" and str(
                error.get("Message", "")
            ).startswith(missing):
                return None  # how SageMaker says a resource does not exist
            raise aws_error(target, exc) from exc

    def tags(self, target: str) -> Mapping[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._describe(target) is None:
            return {}
        try:
            found = self._client(target).list_tags(ResourceArn=target)["Tags"]
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(target, exc) from exc
        return {t["Key"]: t["Value"] for t in found}

    def state(self, target: str) -> str:
        found = self._describe(target)
        if found is None:
            return "deleted"
        status = found.get("EndpointStatus") or found.get("NotebookInstanceStatus") or "unknown"
        return _kebab(str(status))

    def act(self, action: str, target: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        match = _SAGEMAKER.search(target)
        if match is None or action not in self.actions:
            raise ExecutorError(f"{self.name} cannot {action!r} {target}")
        name, api = match.group("name"), self._client(target)
        try:
            if match.group("kind") == "notebook-instance":
                if action != "stop":
                    raise ExecutorError(f"{target}: mlcost stops notebook instances, never deletes")
                api.stop_notebook_instance(NotebookInstanceName=name)
                return (
                    f"stopped notebook instance {name} (start it again with StartNotebookInstance)"
                )
            config = api.describe_endpoint(EndpointName=name)["EndpointConfigName"]
            api.delete_endpoint(EndpointName=name)
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(target, exc) from exc
        return (
            f"deleted endpoint {name}; endpoint config {config} kept: "
            f"CreateEndpoint(EndpointName={name}, EndpointConfigName={config}) brings it back"
        )
