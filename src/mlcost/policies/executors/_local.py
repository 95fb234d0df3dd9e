"""Processes on this machine that mlcost recorded (``local:<pid>``): signals, only to the
process a record proves is the one mlcost started."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlcost.policies.executors._base import ExecutorError

__all__ = ["LocalProcessExecutor"]


class LocalProcessExecutor:
    """Processes on this machine that mlcost recorded, named ``local:<pid>`` or ``pid:<pid>``.

    The id must be exactly that (``slurm:local:1`` is a Slurm job, never PID 1), and the
    process must be provably the one recorded: :meth:`record` writes ``<pid>.json`` under
    ``folder`` (default ``<spool>/processes``) with the PID, its start time (clock ticks after
    boot, ``/proc/<pid>/stat`` field 22), the boot id and the command line; before each state
    read and again right before a signal they are compared with ``/proc``. A PID with no
    record, or whose start time or command differ (the PID was reused), is never signalled.
    They have no tags, so nothing here is protected by tag; ``stop`` sends SIGTERM (the
    tracker saves a checkpoint on it), ``terminate`` SIGKILL.
    """

    name = "local-process"
    actions = frozenset({"stop", "terminate"})
    inactive = frozenset({"terminated"})
    _ID = re.compile(r"(?:pid|local):([1-9]\d*)")

    def __init__(self, *, folder: str | os.PathLike[str] | None = None, **_options: Any) -> None:
        from mlcost.config import spool_dir

        self.folder = Path(folder) if folder is not None else spool_dir() / "processes"

    @staticmethod
    def _live(pid: int) -> dict[str, Any] | None:
        """What /proc says about ``pid`` now, or None if no such process."""
        proc = Path(f"/proc/{pid}")
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ExecutorError(f"pid {pid}: cannot read /proc ({exc}); Linux only") from exc
        # The command name (field 2) is in parentheses and may hold spaces: split after it.
        fields = stat.rpartition(")")[2].split()
        return {
            "pid": pid,
            "start_ticks": int(fields[19]),  # field 22, starttime
            "boot_id": boot,
            "cmdline": [a.decode(errors="replace") for a in cmdline.split(b"\0") if a],
        }

    @classmethod
    def record(cls, pid: int, *, folder: str | os.PathLike[str] | None = None) -> Path:
        """Record ``pid`` (a process mlcost started) so that this executor may act on it.

        Returns the record's path; call it right after starting the process.
        """
        import time

        live = cls._live(pid)
        # Right after fork, a child still shows its parent's command line until its exec,
        # and none during it; recorded then, the command check would refuse it later. Wait
        # for the exec (at most 2 s).
        own = cls._live(os.getpid()) if pid != os.getpid() else None

        def forking(now: dict[str, Any] | None) -> bool:
            return bool(now and own and now["cmdline"] in ([], own["cmdline"]))

        deadline = time.monotonic() + 2
        while forking(live) and time.monotonic() < deadline:
            time.sleep(0.01)
            live = cls._live(pid)
        if live is None:
            raise ExecutorError(f"pid {pid}: no such process to record")
        path = cls(folder=folder).folder / f"{pid}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(live, sort_keys=True))
        tmp.replace(path)  # a reader never sees half a record
        return path

    def target(self, resource_id: str) -> str | None:
        match = self._ID.fullmatch(resource_id.strip())
        return match.group(1) if match else None

    def tags(self, target: str) -> Mapping[str, str]:
        return {}

    def _proven(self, target: str) -> bool:
        """True: the recorded process runs now. False: it has ended (the PID is free or
        reused). Raises when there is no record, or the running process is not the one."""
        path = self.folder / f"{int(target)}.json"
        try:
            recorded = json.loads(path.read_text())
        except FileNotFoundError:
            raise ExecutorError(
                f"pid {target}: no record in {self.folder}, so not a process mlcost started; "
                "not signalled (LocalProcessExecutor.record(pid) records one)"
            ) from None
        except (OSError, ValueError) as exc:
            raise ExecutorError(f"pid {target}: unreadable record {path} ({exc})") from exc
        live = self._live(int(target))
        if live is None:
            return False
        if (live["boot_id"], live["start_ticks"]) != (
            recorded.get("boot_id"),
            recorded.get("start_ticks"),
        ):
            return False  # the recorded process ended; another one has its PID now
        if live["cmdline"] != recorded.get("cmdline"):
            raise ExecutorError(
                f"pid {target} now runs {' '.join(live['cmdline'])[:80]!r}, not the recorded "
                f"{' '.join(recorded.get('cmdline') or [])[:80]!r}; not signalled"
            )
        return True

    def state(self, target: str) -> str:
        return "running" if self._proven(target) else "terminated"

    def act(self, action: str, target: str) -> str:
        sig = {"stop": signal.SIGTERM, "terminate": signal.SIGKILL}.get(action)
        if sig is None:
            raise ExecutorError(f"{self.name} cannot {action!r}")
        if not self._proven(target):  # checked again: the PID may have changed hands since
            raise ExecutorError(f"pid {target}: the recorded process has ended; not signalled")
        try:
            os.kill(int(target), sig)
        except OSError as exc:
            raise ExecutorError(f"pid {target}: {exc}") from exc
        return f"sent {sig.name} to pid {target}"
