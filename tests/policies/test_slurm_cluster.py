"""The Slurm executor against a real one-node Slurm cluster on loopback.

The test writes a ``slurm.conf`` in a temporary folder (auth/none, free ports, state and logs
in the folder), starts ``slurmctld`` and ``slurmd`` from Debian's slurm-wlm packages
(``make tools`` installs them), submits real jobs with ``sbatch`` and lets ``enforce`` cancel
them with ``scancel``. Skipped, saying why, where the daemons are not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.policies import enforce
from tests.attribution.conftest import T0, put
from tests.policies.conftest import by_resource, long_jobs, running_job

pytestmark = pytest.mark.skipif(
    not all(
        shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "scancel", "squeue", "sinfo")
    ),
    reason="Slurm daemons not installed (make tools installs slurmctld, slurmd, slurm-client)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _conf(root: Path) -> str:
    host = socket.gethostname()
    return f"""
ClusterName=mlcosttest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/none
CredType=cred/none
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SlurmUser=root
SlurmdUser=root
ReturnToService=2
KillWait=2
NodeName=gpu0 NodeAddr=127.0.0.1 NodeHostname={host} CPUs=8 State=UNKNOWN
PartitionName=debug Nodes=gpu0 Default=YES MaxTime=INFINITE State=UP
"""


def _run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("slurmd runs jobs as root here; run the tests as root (as CI does)")
    root = tmp_path / "slurm"
    for sub in ("state", "spool"):
        (root / sub).mkdir(parents=True)
    conf = root / "slurm.conf"
    conf.write_text(_conf(root))
    monkeypatch.setenv("SLURM_CONF", str(conf))
    monkeypatch.chdir(root)  # sbatch writes each job's slurm-<id>.out where it is run
    daemons = [
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for argv in (["slurmctld", "-D", "-i"], ["slurmd", "-D", "-N", "gpu0"])
    ]
    try:
        deadline = time.monotonic() + 60
        while (
            "idle"
            not in subprocess.run(
                ["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, check=False
            ).stdout
        ):
            if time.monotonic() > deadline:
                logs = [p.read_text()[-2000:] for p in root.glob("*.log")]
                pytest.fail(f"the Slurm node did not come up: {logs}")
            time.sleep(0.2)
        yield root
    finally:
        # Cancel what is left and let it end, so no job step outlives the daemons.
        subprocess.run(["scancel", "--signal=KILL", "--full", "--user=root"], check=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _squeue("%i"):
            time.sleep(0.2)
        for proc in daemons:
            proc.terminate()
        for proc in daemons:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _squeue(fmt: str, *jobs: str) -> str:
    argv = ["squeue", "--noheader", f"--format={fmt}", *(["--jobs", *jobs] if jobs else [])]
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()


def _state(job: str) -> str:
    return _squeue("%T", job) or "gone"


def test_scancel_on_a_real_cluster(wh: Warehouse, cluster: Path) -> None:
    long_job = _run("sbatch", "--parsable", "--wrap", "sleep 600").strip()
    guarded = _run(
        "sbatch", "--parsable", "--comment", "mlcost:protect=true", "--wrap", "sleep 600"
    ).strip()
    short_job = _run("sbatch", "--parsable", "--wrap", "sleep 600").strip()
    deadline = time.monotonic() + 30
    while {_state(j) for j in (long_job, guarded, short_job)} != {"RUNNING"}:
        assert time.monotonic() < deadline, "jobs did not start"
        time.sleep(0.2)

    # 100 h and 100 h over a 72 h limit; the third started 10 h ago.
    starts = {long_job: 0, guarded: 0, short_job: 90}
    put(wh, "workloads", [running_job(f"slurm:{j}", h) for j, h in starts.items()])
    policies = long_jobs()
    now = T0 + timedelta(hours=100)

    dry = by_resource(enforce(wh, policies, now=now, actor="test"))
    assert set(dry) == {f"slurm:{long_job}", f"slurm:{guarded}"}
    assert dry[f"slurm:{long_job}"].outcome == "would-act"
    assert _state(long_job) == "RUNNING"

    done = by_resource(enforce(wh, policies, now=now, execute=True, actor="test"))
    assert done[f"slurm:{long_job}"].outcome == "acted"
    assert done[f"slurm:{guarded}"].detail == "protected: mlcost:protect=true"
    assert _state(long_job) in ("COMPLETING", "CANCELLED", "gone")
    assert (_state(guarded), _state(short_job)) == ("RUNNING", "RUNNING")

    again = by_resource(enforce(wh, policies, now=now, execute=True, actor="test"))
    assert again[f"slurm:{long_job}"].outcome == "skipped"
    assert again[f"slurm:{long_job}"].detail.startswith("already ")


def test_a_job_past_its_limit_is_cancelled_after_its_grace_once(
    wh: Warehouse, cluster: Path
) -> None:
    from dataclasses import replace

    job = _run("sbatch", "--parsable", "--wrap", "sleep 600").strip()
    deadline = time.monotonic() + 30
    while _state(job) != "RUNNING":
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.2)
    put(wh, "workloads", [running_job(f"slurm:{job}", 0)])
    (policy,) = long_jobs()
    policies = (replace(policy, grace=timedelta(hours=2)),)
    target = f"slurm:{job}"

    # 100 h > 72 h: marked, with a deadline 2 hours on; nothing is cancelled, even with
    # --execute, until then.
    first = by_resource(enforce(wh, policies, now=T0 + timedelta(hours=100), execute=True))
    assert first[target].decision == "marked"
    assert first[target].deadline == T0 + timedelta(hours=102)
    early = by_resource(enforce(wh, policies, now=T0 + timedelta(hours=101), execute=True))
    assert early[target].decision == "marked" and _state(job) == "RUNNING"

    late = by_resource(enforce(wh, policies, now=T0 + timedelta(hours=102), execute=True))
    assert late[target].decision == "acted"
    end = time.monotonic() + 30
    while _state(job) not in ("CANCELLED", "gone"):
        assert time.monotonic() < end, "scancel did not end the job"
        time.sleep(0.2)
    # Later runs (the workload record still says running): nothing left to cancel.
    again = by_resource(enforce(wh, policies, now=T0 + timedelta(hours=103), execute=True))
    assert again[target].decision == "skipped" and again[target].detail.startswith("already ")
    a = wh.table("actions")
    acted = a.filter((a.resource_id == target) & (a.outcome == "acted")).count().execute()
    assert acted == 1
