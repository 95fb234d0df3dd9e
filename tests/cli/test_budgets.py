"""`mlcost budgets status|check`, `mlcost policies check|enforce` and `mlcost watch`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.cli.main import cli
from mlcost.cli.watch import parse_every, watch_lock
from tests.attribution.conftest import put, sample
from tests.budgets.conftest import daily_spend


def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    with open_warehouse(url) as wh:
        daily_spend(wh, 20, {"vision": 40.0, "search": 10.0})
        put(
            wh,
            "gpu_samples",
            [sample("i-0abc12345678def00", m / 60, 0.0) for m in range(0, 121, 10)],
        )
    (tmp_path / "mlcost.toml").write_text(
        f"""
[budgets.vision]
scope = {{ team = "vision" }}
amount = 1000
currency = "USD"
channels = ["file"]

[notify.channels.file]
kind = "file"
path = "{tmp_path / "alerts.jsonl"}"

[policies.idle-gpu]
kind = "idle"
executor = "aws-ec2"
action = "hibernate"
"""
    )
    monkeypatch.chdir(tmp_path)
    return url


def test_budgets_status_and_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _setup(tmp_path, monkeypatch)
    r = CliRunner().invoke(cli, ["--warehouse", url, "budgets", "status", "--format", "json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.output)
    assert (row["spent"], row["currency"], row["crossed"]) == (
        800.0,
        "USD",
        "actual 75%, forecast 100%",
    )
    for _ in range(2):
        r = CliRunner().invoke(cli, ["--warehouse", url, "budgets", "check", "--format", "json"])
        assert r.exit_code == 0, r.output
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 2


def test_policies_and_watch_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _setup(tmp_path, monkeypatch)
    r = CliRunner().invoke(cli, ["--warehouse", url, "policies", "check", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert [v["resource_id"] for v in json.loads(r.output)] == ["i-0abc12345678def00"]
    r = CliRunner().invoke(cli, ["--warehouse", url, "policies", "enforce", "--format", "json"])
    (d,) = json.loads(r.output)
    # No executor can hibernate: reported with the fix, never marked.
    assert d["decision"] == "skipped"
    assert d["detail"] == (
        "aws-ec2 can stop, terminate. Fix: set action to one of them in [policies.idle-gpu]"
    )
    r = CliRunner().invoke(cli, ["--warehouse", url, "watch", "--once"])
    assert r.exit_code == 0, r.output
    assert "1 alert(s) sent" not in r.output and "2 alert(s) sent" in r.output


def test_a_second_watch_exits_while_the_first_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _setup(tmp_path, monkeypatch)
    with watch_lock(tmp_path / "w.duckdb.watch.lock"):
        r = CliRunner().invoke(cli, ["--warehouse", url, "watch", "--once"])
    assert r.exit_code == 0 and "another mlcost watch holds" in r.output
    assert not (tmp_path / "alerts.jsonl").exists()


def test_parse_every() -> None:
    assert (parse_every("15m"), parse_every("30s"), parse_every("1h")) == (900, 30, 3600)


def test_budgets_check_exits_1_when_a_delivery_fails_and_counts_each_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    url = _setup(tmp_path, monkeypatch)
    with socket.socket() as s:  # a port nobody listens on: every try is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    toml = (tmp_path / "mlcost.toml").read_text()
    toml = toml.replace('channels = ["file"]', 'channels = ["file", "hook"]')
    toml += (
        f'\n[notify.channels.hook]\nkind = "webhook"\nurl = "http://127.0.0.1:{port}/x"\n'
        "retries = 3\nbackoff_s = 0\n"
    )
    (tmp_path / "mlcost.toml").write_text(toml)
    r = CliRunner().invoke(cli, ["--warehouse", url, "budgets", "check", "--format", "json"])
    assert r.exit_code == 1, r.output
    outcomes = {(d["channel"], d["outcome"]) for d in json.loads(r.stdout)}
    assert outcomes == {("file", "sent"), ("hook", "failed")}
    with open_warehouse(url, read_only=True) as wh:
        d = wh.table("alert_deliveries")
        hook = d.filter(d.channel == "hook").to_pyarrow().to_pylist()
    assert len(hook) == 2 and all(r["attempts"] == 3 for r in hook)
    assert all(r["status"] == "pending" for r in hook)


@pytest.mark.parametrize("credentials", [False, True])
def test_enforce_without_credentials_or_endpoint_fails_each_decision_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, credentials: bool
) -> None:
    import socket

    pytest.importorskip("boto3")
    url = _setup(tmp_path, monkeypatch)
    with open_warehouse(url) as wh:  # a second idle instance: the run goes on past the first
        put(
            wh,
            "gpu_samples",
            [sample("i-0def12345678abc00", m / 60, 0.0) for m in range(0, 121, 10)],
        )
    with socket.socket() as s:  # nobody listens here: the endpoint is unreachable
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    toml = (tmp_path / "mlcost.toml").read_text().replace('action = "hibernate"', 'action = "stop"')
    toml += f'endpoint_url = "http://127.0.0.1:{port}"\n'
    (tmp_path / "mlcost.toml").write_text(toml)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    if credentials:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    r = CliRunner().invoke(
        cli, ["--warehouse", url, "policies", "enforce", "--execute", "--format", "json"]
    )
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    decisions = json.loads(r.stdout)
    assert [d["decision"] for d in decisions] == ["failed", "failed"]
    says = "credentials" if not credentials else "Could not connect"
    assert all(says in d["detail"] for d in decisions), decisions
