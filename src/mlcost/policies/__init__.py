"""Guardrail policies: declared in ``[policies.<name>]``, checked read-only, enforced only with
``execute=True``, never on resources tagged ``mlcost:protect=true``, every decision audited in
the ``actions`` table (``_store.py``: policies' own store over the warehouse). See
docs/budgets.md.
"""

from mlcost.policies._enforce import Decision, Violation, check, enforce
from mlcost.policies._store import AuditStore, audit_rows
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
    "AuditStore",
    "Decision",
    "Ec2Executor",
    "Executor",
    "ExecutorError",
    "KubernetesExecutor",
    "LocalProcessExecutor",
    "SageMakerExecutor",
    "SlurmExecutor",
    "Violation",
    "audit_rows",
    "check",
    "enforce",
]
