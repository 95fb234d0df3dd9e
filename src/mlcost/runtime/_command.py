"""``mlcost run -- CMD``: track any command, and stop it when its budget is spent.

The command runs as a child process with ``MLCOST_RUN_ID`` in its environment. At 100% of the
budget it gets SIGTERM (so its own ``on_interruption`` handler can checkpoint), and SIGKILL
``grace_seconds`` later if it has not exited. SIGTERM and SIGINT sent to ``mlcost run`` are
passed on to the command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from mlcost.runtime._tracker import Run, track

__all__ = ["run_command"]


def run_command(
    argv: Sequence[str],
    *,
    grace_seconds: float = 30.0,
    poll_seconds: float = 0.5,
    **track_options: Any,
) -> tuple[int, Run]:
    """Run ``argv`` under a tracker; returns the command's exit status and the finished run.

    >>> code, run = run_command(["true"], spool=__import__("tempfile").mkdtemp(),
    ...                         detect=False, gpu=False)
    >>> code, run.status
    (0, 'finished')
    """
    if not argv:
        raise ValueError("no command given: mlcost run -- python train.py")
    track_options.setdefault("run", os.path.basename(argv[0]))
    run = track(track_options.pop("run"), **track_options).start()
    env = {**os.environ, "MLCOST_RUN_ID": run.run_id}
    try:
        proc = subprocess.Popen(list(argv), env=env)
    except OSError as exc:
        run.stopped_reason = f"could not start {argv[0]!r}: {exc}"
        run.finish("failed")
        raise FileNotFoundError(
            f"Could not start {argv[0]!r}: {exc}. Check the command after '--'."
        ) from exc
    forwarded: list[str] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(signal.Signals(signum).name)
        proc.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, forward)
    kill_at: float | None = None
    try:
        while True:
            try:
                code = proc.wait(timeout=poll_seconds)
                break
            except subprocess.TimeoutExpired:
                pass
            if kill_at is None and run.check() is not None:
                proc.send_signal(signal.SIGTERM)
                kill_at = time.monotonic() + grace_seconds
            elif kill_at is not None and time.monotonic() >= kill_at:
                proc.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if forwarded and run.stopped_reason is None:
        run.stopped_reason = f"{forwarded[0]} received; passed on to the command"
    status = "stopped" if run.stopped_reason is not None else "finished" if code == 0 else "failed"
    run.finish(status)
    return code, run
