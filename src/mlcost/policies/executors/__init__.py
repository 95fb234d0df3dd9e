"""Executors: what acts on the real systems. Each declares the actions it can take.

Built: AWS EC2 (stop, terminate) and SageMaker (endpoints: stop = delete the endpoint, keep
its config; notebook instances: stop) through boto3 (``_aws.py``); Slurm (``scancel``, the
binary on PATH; ``_slurm.py``); Kubernetes (scale a deployment to zero, delete a pod) through
the official client (``_kubernetes.py``); local processes (stop = SIGTERM, terminate =
SIGKILL, for processes mlcost recorded; ``_local.py``). boto3 and kubernetes are imported
only when an executor is made.

:func:`executor_for` chooses the executor by what the billed resource is (its identity's
``resource_type``), or answers :class:`Unexecutable` with the reason and the fix
(``_dispatch.py``). :func:`run_action` acts and never raises for what the system answers:
5xx, throttling and timeouts are retried with exponential backoff, credential, permission
and validation errors are not, and the error comes back redacted in an :class:`Outcome`
(``_base.py``).
"""

from mlcost.policies.executors._aws import Ec2Executor, SageMakerExecutor
from mlcost.policies.executors._base import (
    Executor,
    ExecutorError,
    Outcome,
    run_action,
    with_retries,
)
from mlcost.policies.executors._dispatch import (
    AUTO,
    EXECUTOR_BY_TYPE,
    EXECUTORS,
    Unexecutable,
    executor_for,
    make_executor,
)
from mlcost.policies.executors._kubernetes import KubernetesExecutor
from mlcost.policies.executors._local import LocalProcessExecutor
from mlcost.policies.executors._slurm import SlurmExecutor

__all__ = [
    "AUTO",
    "EXECUTORS",
    "EXECUTOR_BY_TYPE",
    "Ec2Executor",
    "Executor",
    "ExecutorError",
    "KubernetesExecutor",
    "LocalProcessExecutor",
    "Outcome",
    "SageMakerExecutor",
    "SlurmExecutor",
    "Unexecutable",
    "executor_for",
    "make_executor",
    "run_action",
    "with_retries",
]
