"""Guardrail policies: declared in ``[policies.<name>]``, scoped (environment, owner, resource
type, working hours), enforced as notice -> grace -> act (a mark with a deadline, the owner
told, the action only if the violation still holds at the deadline, only with
``execute=True``), never on resources kept by an exemption, ``mlcost:keep-until`` or
``mlcost:protect=true``; every step audited in the ``actions`` table (``_store.py``:
policies' own stores over the warehouse). Modules: ``_enforce`` (violations of each kind),
``_scope`` (which of them a policy applies to), ``_flow`` (mark, notify, act, exempt),
``executors``. See docs/budgets.md.
"""

from mlcost.policies._enforce import Violation, check
from mlcost.policies._flow import DECISIONS, Decision, enforce, exempt, review
from mlcost.policies._store import AuditStore, Exemption, Mark, MarkStore, audit_rows
from mlcost.policies.executors import (
    EXECUTORS,
    Ec2Executor,
    Executor,
    ExecutorError,
    KubernetesExecutor,
    LocalProcessExecutor,
    Outcome,
    SageMakerExecutor,
    SlurmExecutor,
    Unexecutable,
    executor_for,
    run_action,
)

__all__ = [
    "DECISIONS",
    "EXECUTORS",
    "AuditStore",
    "Decision",
    "Ec2Executor",
    "Executor",
    "ExecutorError",
    "Exemption",
    "KubernetesExecutor",
    "LocalProcessExecutor",
    "Mark",
    "MarkStore",
    "Outcome",
    "SageMakerExecutor",
    "SlurmExecutor",
    "Unexecutable",
    "Violation",
    "audit_rows",
    "check",
    "enforce",
    "executor_for",
    "exempt",
    "review",
    "run_action",
]
