"""`mlcost watch`: ingests configured sources, alerts once per budget threshold and per
high-value insight to a real webhook receiver on loopback, holds a lock, and survives SIGKILL
at any moment (a real process, killed and restarted) without losing or repeating an alert."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.cli.main import cli


@dataclass
class Hub:
    """A webhook receiver that, like a careful real one, keeps each Idempotency-Key once.

    ``hold_after``: posts after that many wait (the sender blocks on its answer) until
    ``release`` is set, so a test can kill the sender with a delivery in flight.
    """

    url: str = ""
    posts: list[str] = field(default_factory=list)  # Idempotency-Key of every POST received
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_posts(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < n:
            assert time.monotonic() < deadline, f"{len(self.posts)} post(s), waited for {n}"
            time.sleep(0.05)


@pytest.fixture
def hub() -> Iterator[Hub]:
    state = Hub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers["Idempotency-Key"]
            assert key == body["alert_key"]
            with state.lock:
                state.posts.append(key)
                n = len(state.posts)
            if state.hold_after is not None and n > state.hold_after:
                state.release.wait(timeout=180)
            state.accepted.setdefault(key, body)
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:
                pass  # the sender was killed while we held its request

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlcost.demo.generate import generate_demo

    out = tmp_path_factory.mktemp("org")
    generate_demo(out, days=7, scale=0.3)
    return out


def _project(tmp_path: Path, org: Path, hub: Hub) -> Path:
    shutil.copytree(org, tmp_path / "exports")
    (tmp_path / "mlcost.toml").write_text(
        f"""
warehouse = "warehouse.duckdb"

[budgets.everything]
amount = 20000
currency = "USD"
channels = ["ops"]

[budgets.vision]
scope = {{ team = ["vision", "cv-vision"] }}
amount = 1000000
currency = "USD"
channels = ["ops"]

[notify.channels.ops]
kind = "webhook"
url = "{hub.url}"
retries = 1
timeout_s = 300

[watch]
every = "1s"
insight_min_impact = 1000
insight_currency = "USD"
insight_channels = ["ops"]

[watch.sources.acme]
kind = "auto"
paths = ["exports"]
"""
    )
    return tmp_path


def _recorded(project: Path) -> tuple[set[str], Counter[str]]:
    """The alert keys in the warehouse, and delivery states."""
    with open_warehouse(f"duckdb://{project / 'warehouse.duckdb'}") as wh:
        keys = set(wh.table("alerts").alert_key.to_pyarrow().to_pylist())
        states = Counter(wh.table("alert_deliveries").status.to_pyarrow().to_pylist())
    return keys, states


def test_watch_ingests_its_sources_and_alerts_once_per_threshold_and_insight(
    tmp_path: Path, org: Path, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, org, hub)
    monkeypatch.chdir(project)
    first = CliRunner().invoke(cli, ["watch", "--once"])
    assert first.exit_code == 0, first.output
    assert "ingesting acme (auto)" in first.output and "acme: " in first.output
    keys, states = _recorded(project)
    budget = sorted(k for k in keys if k.startswith("budget|"))
    insight = sorted(k for k in keys if k.startswith("insight|"))
    # 20,000 USD: the week's spend passes 75%, 90% and 100%, and so does the forecast; the
    # vision budget of 1,000,000 USD crosses nothing.
    assert [k.split("|")[1] for k in budget] == ["everything"] * 4
    assert {k.rsplit("|", 2)[1] for k in budget} == {"actual", "forecast"}
    assert len(insight) >= 3
    assert all(hub.accepted[k]["impact"] >= 1000 for k in insight)
    assert all(hub.accepted[k]["currency"] == "USD" for k in insight)
    assert sorted(hub.posts) == sorted(keys)  # each alert once
    assert states == Counter({"sent": len(keys)})
    with open_warehouse(f"duckdb://{project / 'warehouse.duckdb'}") as wh:
        assert wh.table("recommendations").count().execute() >= len(insight)

    # A second round: the files are unchanged, nothing is alerted again.
    again = CliRunner().invoke(cli, ["watch", "--once"])
    assert again.exit_code == 0, again.output
    assert "acme: " not in again.output
    assert "budgets: 2 checked, 0 new alert(s)" in again.output
    assert "0 new alert(s)" in again.output.split("insights:")[1]
    assert sorted(hub.posts) == sorted(keys)


@dataclass
class Watcher:
    """``mlcost watch`` as a real process, its output read line by line as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def wait_for_line(self, text: str) -> None:
        deadline = time.monotonic() + 120
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, f"watch exited: {self.lines}"
            assert time.monotonic() < deadline, self.lines
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no handler, no cleanup, no flush
        self.proc.wait(timeout=30)
        assert self.reader is not None and self.proc.stdout is not None
        self.reader.join(timeout=30)
        self.proc.stdout.close()


def _start(project: Path) -> Watcher:
    exe = Path(sys.executable).parent / "mlcost"
    proc = subprocess.Popen(
        [str(exe), "watch"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "HOME": str(project),
            "XDG_CONFIG_HOME": str(project / "config"),
        },
    )
    watcher = Watcher(proc)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            watcher.lines.append(line.rstrip("\n"))

    watcher.reader = threading.Thread(target=read, daemon=True)
    watcher.reader.start()
    return watcher


def _once(project: Path) -> subprocess.CompletedProcess[str]:
    """``mlcost watch --once`` as a process, to its end."""
    argv = [str(Path(sys.executable).parent / "mlcost"), "watch", "--once"]
    return subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=600)


def _finish_and_check(project: Path, hub: Hub, in_flight: list[str]) -> None:
    """Restart, let it finish, and check nothing was lost and nothing repeated."""
    hub.hold_after = None
    hub.release.set()
    done = _once(project)
    assert done.returncode == 0, done.stdout + done.stderr
    keys, states = _recorded(project)
    assert len(keys) >= 7
    assert set(hub.accepted) == keys  # none lost
    assert states == Counter({"sent": len(keys)})
    # Each alert posted once, but for the one whose answer the kill cut off: it is posted
    # again with the same Idempotency-Key, and the receiver keeps it once.
    assert Counter(hub.posts) == Counter({k: 1 + in_flight.count(k) for k in keys})


def test_sigkill_during_ingest_then_restart(tmp_path: Path, org: Path, hub: Hub) -> None:
    project = _project(tmp_path, org, hub)
    hub.hold_after = 0
    watcher = _start(project)
    watcher.wait_for_line("ingesting acme")
    time.sleep(0.5)  # inside the load: the demo's bills and telemetry take seconds
    watcher.kill()
    in_flight = list(hub.posts)
    assert in_flight == [] and not any(line.startswith("acme:") for line in watcher.lines)
    _finish_and_check(project, hub, in_flight)


def test_sigkill_with_a_delivery_in_flight_then_restart(
    tmp_path: Path, org: Path, hub: Hub
) -> None:
    project = _project(tmp_path, org, hub)
    hub.hold_after = 2  # two alerts go through, the third is held
    watcher = _start(project)
    hub.wait_for_posts(3)
    # Meanwhile a second watcher on the same warehouse exits at once: the lock is held.
    second = _once(project)
    assert second.returncode == 0 and "another mlcost watch holds" in second.stdout + second.stderr
    watcher.kill()
    in_flight = hub.posts[2:]
    assert len(in_flight) == 1
    _finish_and_check(project, hub, in_flight)


def test_watch_table_is_typed_and_a_missing_source_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcost.config import load_settings
    from mlcost.errors import ConfigError

    toml = tmp_path / "mlcost.toml"
    for body, message in {
        "[watch]\nevry = '15m'": "unknown key(s) evry in [watch]",
        "[watch]\nevery = 'often'": 'write e.g. "15m"',
        "[watch]\ninsight_min_impact = 100": "add insight_channels",
        "[watch.sources.a]\nkind = 'focus'": "needs paths",
        "[watch.sources.a]\npaths = ['x']\nglob = '*'": "unknown key(s) glob",
    }.items():
        toml.write_text(body)
        with pytest.raises(ConfigError) as err:
            load_settings(env={"HOME": str(tmp_path)}, cwd=tmp_path)
        assert message in str(err.value) and str(toml) in str(err.value)

    toml.write_text(
        "[watch.sources.bills]\nkind = 'focus'\npaths = ['not-there']\n"
        "[watch.sources.sacct]\nkind = 'slurm'\npaths = ['jobs.txt']\noptions = { tz = 'UTC' }\n"
    )
    (tmp_path / "jobs.txt").write_text("JobID|State\n")
    settings = load_settings(env={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert settings.watch.sources[0].paths == (str(tmp_path / "not-there"),)
    monkeypatch.chdir(tmp_path)
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    r = CliRunner().invoke(cli, ["--warehouse", url, "watch", "--once"])
    # The missing folder is reported and the round goes on; bad options name the file.
    assert "source error: bills:" in r.output and "not-there" in r.output
    assert isinstance(r.exception, ConfigError)  # `mlcost` prints it as "Error: ..." (exit 2)
    assert str(toml) in str(r.exception) and "unexpected keyword argument 'tz'" in str(r.exception)


@pytest.mark.spark
def test_watch_once_on_spark_loads_alerts_delivers_and_audits(
    tmp_path: Path, spark_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `mlcost --warehouse 'spark://local[2]?warehouse_dir=…' watch --once`: the FOCUS source
    # loads into Spark, the budget's alerts are recorded there and delivered, the policy runs
    # (nothing idle: no telemetry), and it exits 0 with nothing skipped.
    from mlcost.testing import write_focus_file
    from tests.conftest import spark_url

    (tmp_path / "bills").mkdir()
    write_focus_file(tmp_path / "bills" / "bill.csv", 40)
    (tmp_path / "mlcost.toml").write_text(
        """
[budgets.everything]
amount = 1
currency = "USD"
channels = ["ops"]

[notify.channels.ops]
kind = "file"
path = "alerts.jsonl"

[policies.idle]
kind = "idle"
action = "stop"
executor = "local-process"

[watch.sources.bills]
kind = "focus"
paths = ["bills"]
"""
    )
    monkeypatch.chdir(tmp_path)
    url = spark_url(spark_dir)
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    r = CliRunner().invoke(cli, ["--warehouse", url, "watch", "--once"], env=env)
    assert r.exit_code == 0, r.output
    assert "bills: 1 new load(s)" in r.output
    assert "skipped" not in r.output
    lines = r.output.splitlines()
    (checked,) = [line for line in lines if line.startswith("budgets: 1 checked, ")]
    new = int(checked.split(", ")[1].split()[0])
    assert new >= 1  # the whole bill is over a budget of 1 USD
    assert f"alerts: {new} alert(s) sent, 0 delivery failure(s)" in r.output
    assert "policies: 0 decision(s), 0 acted on" in r.output
    sent = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(sent) == new and all(json.loads(x)["budget"] == "everything" for x in sent)
    database = url.rpartition("database=")[2]
    assert (spark_dir / f"{database}.watch.lock").exists()  # the lock sits with the tables
    with open_warehouse(url, read_only=True) as wh:
        assert wh.table("cost_line_items").count().execute() == 40
        assert wh.table("alerts").count().execute() == new
        statuses = wh.table("alert_deliveries").status.to_pyarrow().to_pylist()
        assert statuses == ["sent"] * new
