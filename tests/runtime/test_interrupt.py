"""Spot notices and SIGTERM reach a real training process; its save runs once; resume works."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlcost.runtime import Interruption, latest_checkpoint, on_interruption
from tests.runtime.servers import CloudState, metadata_server, read_spool

# A training loop that resumes from the newest complete checkpoint and saves on interruption.
CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from mlcost.runtime import checkpoint, latest_checkpoint, on_interruption, track

    ckdir, spool, url = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    state = {"step": 0}
    start = latest_checkpoint(ckdir)
    if start is not None:
        state = json.loads((start / "state.json").read_text())

    def save(interruption):
        with open(ckdir.parent / "saves.txt", "a") as fh:
            fh.write(f"{interruption.source} {interruption.seconds_left}\\n")
        with checkpoint(ckdir, step=state["step"]) as folder:
            (folder / "state.json").write_text(json.dumps(state))
            time.sleep(0.2)  # a slow save: a second signal arrives while it runs

    clouds = ("aws",) if url else ()
    with track("spot-child", spool=spool, hourly_price=1.0, detect=False, interval=0.05):
        on_interruption(save, clouds=clouds, urls={"aws": url}, poll_seconds=0.05)
        print("ready", state["step"], flush=True)
        while True:
            state["step"] += 1
            time.sleep(0.005)
    """
)


def _start(tmp_path: Path, url: str) -> tuple[subprocess.Popen[str], int]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    args = [sys.executable, str(script), str(tmp_path / "ck"), str(tmp_path / "spool"), url]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=Path.cwd())
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[0] == "ready", line
    return proc, int(line[1])


def _wait(proc: subprocess.Popen[str]) -> int:
    code = proc.wait(timeout=30)
    assert proc.stdout is not None
    proc.stdout.close()
    return code


def test_aws_notice_mid_run_saves_once_then_sigterm_after_resume(tmp_path: Path) -> None:
    with metadata_server() as (base, state):
        proc, resumed_at = _start(tmp_path, base)
        assert resumed_at == 0
        time.sleep(0.2)  # let it train a little before the notice is posted
        deadline = datetime.now(UTC) + timedelta(minutes=2)
        state.aws_spot_action = {
            "action": "terminate",
            "time": deadline.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        assert _wait(proc) == 128 + signal.SIGTERM
    saves = (tmp_path / "saves.txt").read_text().splitlines()
    assert len(saves) == 1 and saves[0].startswith("aws ")
    assert 60 < float(saves[0].split()[1]) <= 120  # the time left that AWS announced
    first = latest_checkpoint(tmp_path / "ck")
    assert first is not None
    saved_step = json.loads((first / "state.json").read_text())["step"]
    assert saved_step > 0
    record = read_spool(tmp_path / "spool", "run")[-1]
    assert record["status"] == "stopped"
    assert str(record["stopped_reason"]).startswith("interrupted: aws terminate")
    assert float(record["checkpoint_seconds"]) >= 0.2  # type: ignore[arg-type]

    # Resume picks that checkpoint; two SIGTERMs (the second during the save) save once.
    proc, resumed_at = _start(tmp_path, "")
    assert resumed_at == saved_step
    time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert _wait(proc) == 128 + signal.SIGTERM
    saves = (tmp_path / "saves.txt").read_text().splitlines()
    assert len(saves) == 2 and saves[1] == "SIGTERM None"
    second = latest_checkpoint(tmp_path / "ck")
    assert second is not None and second != first
    assert json.loads((second / "state.json").read_text())["step"] > saved_step


def _post_gcp(state: CloudState) -> None:
    state.gcp_preempted = True


def _post_azure(state: CloudState) -> None:
    state.azure_events.append({"EventType": "Preempt", "NotBefore": ""})


@pytest.mark.parametrize(("cloud", "post"), [("gcp", _post_gcp), ("azure", _post_azure)])
def test_gcp_and_azure_notices_run_the_save_in_the_main_thread(
    cloud: str, post: Callable[[CloudState], None]
) -> None:
    calls: list[tuple[Interruption, str]] = []
    with metadata_server() as (base, state):
        watcher = on_interruption(
            lambda i: calls.append((i, threading.current_thread().name)),
            clouds=(cloud,),
            urls={cloud: base},
            poll_seconds=0.02,
            exit=False,
        )
        try:
            post(state)
            for _ in range(2000):  # the save runs here, between two bytecodes of this loop
                if watcher.interruption is not None and calls:
                    break
                time.sleep(0.005)
        finally:
            watcher.stop()
    assert [(i.source, name) for i, name in calls] == [(cloud, "MainThread")]


def test_stop_restores_the_previous_sigterm_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    watcher = on_interruption(lambda i: None, clouds=())
    assert signal.getsignal(signal.SIGTERM) != before
    watcher.stop()
    assert signal.getsignal(signal.SIGTERM) == before
