"""Guardrail policies: declared in ``[policies.<name>]``, checked read-only, enforced only with
``execute=True``, never on resources tagged ``mlcost:protect=true``, every decision audited in
the ``actions`` table. See docs/budgets.md.
"""

from mlcost.policies._enforce import Decision, Violation, check, enforce
from mlcost.policies.executors import (
    EXECUTORS,
    Ec2Executor,
    Executor,
    ExecutorError,
    KubernetesExecutor,
    LocalProcessExecutor,
    SageMakerExecutor,
    SlurmExecutor,
)

__all__ = [
    "EXECUTORS",
    "Decision",
    "Ec2Executor",
    "Executor",
    "ExecutorError",
    "KubernetesExecutor",
    "LocalProcessExecutor",
    "SageMakerExecutor",
    "SlurmExecutor",
    "Violation",
    "check",
    "enforce",
]
