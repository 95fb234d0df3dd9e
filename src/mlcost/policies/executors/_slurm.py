"""Slurm jobs (``slurm:<job>``, ``slurm:<cluster>:<job>``) through ``scancel`` and ``squeue``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlcost.policies.executors._base import ExecutorError

__all__ = ["SLURM_FIX", "SlurmExecutor"]

SLURM_FIX = (
    "install the Slurm client tools (scancel, squeue) on the machine that runs mlcost, "
    "with a slurm.conf that reaches the controller"
)
# What scancel / squeue print when slurmctld cannot be reached or is busy (Slurm 23-24).
_TRANSIENT = (
    "Unable to contact slurm controller",
    "Socket timed out",
    "Zero Bytes were transmitted",
    "Connection refused",
    "Resource temporarily unavailable",
)


class SlurmExecutor:
    """Slurm jobs, named ``slurm:<job id>`` or ``slurm:<cluster>:<job id>`` (as ``sacct``
    ingest names them), through the ``scancel`` and ``squeue`` binaries on PATH.

    ``scancel`` (or ``stop``) cancels the job: Slurm sends SIGTERM, then SIGKILL after the
    cluster's KillWait. The protect tag is read from the job's comment (``squeue -o %k``),
    written as ``key=value`` pairs: ``sbatch --comment mlcost:protect=true``.
    """

    name = "slurm"
    actions = frozenset({"scancel", "stop"})
    inactive = frozenset(
        {"gone", "completed", "completing", "cancelled", "failed", "timeout", "node_fail"}
    )
    _JOB = re.compile(r"^slurm:(?:(?P<cluster>[\w.-]+):)?(?P<job>\d+(?:_\d+)?)$")
    _PAIR = re.compile(r"([^\s,=]+)=([^\s,]*)")

    def __init__(self, *, scancel: str = "scancel", squeue: str = "squeue", **_options: Any):
        self._scancel, self._squeue = scancel, squeue

    def target(self, resource_id: str) -> str | None:
        match = self._JOB.match(resource_id)
        if match is None:
            return None
        return ":".join(p for p in (match.group("cluster"), match.group("job")) if p)

    def _run(self, argv: list[str], target: str) -> str:
        import subprocess

        cluster, _, job = target.rpartition(":")
        args = [*argv, *([f"--clusters={cluster}"] if cluster else []), job]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        except FileNotFoundError as exc:
            raise ExecutorError(f"{argv[0]} is not on PATH", fix=SLURM_FIX) from exc
        except subprocess.TimeoutExpired as exc:
            raise ExecutorError(f"{' '.join(args)}: no answer in 60 s", retryable=True) from exc
        if done.returncode != 0:
            if "Invalid job id" in done.stderr:
                return ""  # finished long enough ago that slurmctld forgot it
            # The controller down or busy (a failover, a restart) may answer on a later try.
            retry = any(s in done.stderr for s in _TRANSIENT)
            raise ExecutorError(
                f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}",
                retryable=retry,
            )
        # With --clusters squeue prints a "CLUSTER: name" line first.
        return "\n".join(
            line for line in done.stdout.splitlines() if not line.startswith("CLUSTER:")
        ).strip()

    def tags(self, target: str) -> Mapping[str, str]:
        comment = self._run([self._squeue, "--noheader", "--format=%k", "--jobs"], target)
        return dict(self._PAIR.findall(comment))

    def state(self, target: str) -> str:
        out = self._run([self._squeue, "--noheader", "--format=%T", "--jobs"], target)
        return out.lower() or "gone"

    def act(self, action: str, target: str) -> str:
        if action not in self.actions:
            raise ExecutorError(f"{self.name} cannot {action!r}")
        out = self._run([self._scancel], target)
        return f"scancel {target}: accepted{f' ({out})' if out else ''}"
