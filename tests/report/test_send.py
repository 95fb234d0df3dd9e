"""`mlcost report weekly` end to end: files, formats, and --send through real channels (a
file, a webhook receiver and an SMTP server on loopback), each report delivered once."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mlcost.cli.main import main
from tests.notify.conftest import Mailbox, Receiver, mailbox, receiver
from tests.report.conftest import Demo

__all__ = ["mailbox", "receiver"]  # the loopback receivers of tests/notify


def _run(tmp: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(tmp)
    from mlcost.cli.main import cli

    return CliRunner().invoke(cli, ["report", "weekly", "--no-rebuild", *args])


def _setup(demo: Demo, tmp: Path, channels: str) -> None:
    (tmp / "mlcost.toml").write_text(demo.toml(channels), encoding="utf-8")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_writes_html_markdown_and_slack(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(demo, tmp_path, "")
    r = _run(tmp_path, monkeypatch, "--out", "out/report.html")
    assert r.exit_code == 0, r.output
    html = (tmp_path / "out/report.html").read_text()
    assert html.startswith("<!doctype html>") and "2026-W23" in html
    r = _run(tmp_path, monkeypatch, "--out", "report.md", "--owner", "team:vision")
    assert r.exit_code == 0, r.output
    assert (
        (tmp_path / "report.md")
        .read_text()
        .startswith("# Weekly cost report 2026-W23 (team vision)")
    )
    r = _run(tmp_path, monkeypatch, "--format", "slack", "--week", "2026-W22")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("*Weekly cost report 2026-W22 (all owners)*")


def test_bad_week_and_missing_week_are_clear_errors(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(demo, tmp_path, "")
    monkeypatch.chdir(tmp_path)
    assert main(["report", "weekly", "--week", "2026-47"]) == 2
    assert "Week '2026-47' is not an ISO week. Write YYYY-Www, e.g. 2026-W47" in (
        capsys.readouterr().err
    )
    assert main(["report", "weekly", "--no-rebuild", "--week", "2025-W10"]) == 2
    err = capsys.readouterr().err
    assert "No cost data in 2025-W10" in err and "covers 2026-W18 to 2026-W23" in err


def test_send_to_a_file_channel_once(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports.jsonl"
    _setup(demo, tmp_path, f'[notify.channels.report-file]\nkind = "file"\npath = "{out}"\n')
    r = _run(tmp_path, monkeypatch, "--send", "report-file", "--out", "r.html")
    assert r.exit_code == 0, r.output
    (sent,) = _lines(out)
    assert sent["html"] == (tmp_path / "r.html").read_text()
    r = _run(tmp_path, monkeypatch, "--send", "report-file")  # a cron retry: nothing new
    assert r.exit_code == 0, r.output
    (line,) = _lines(out)
    assert (line["kind"], line["week"], line["owner"], line["currency"]) == (
        "weekly_report",
        "2026-W23",
        None,
        "USD",
    )
    assert line["total"] == round(float(demo.report.total.this_week), 2)
    assert line["report"]["total"]["this_week"] == line["total"]
    assert "Already sent: report|weekly|2026-W23|team:*|report-file" in r.output
    r = _run(tmp_path, monkeypatch, "--send", "report-file", "--resend")
    assert r.exit_code == 0, r.output
    assert len(_lines(out)) == 2


def test_send_to_a_webhook_once(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    _setup(demo, tmp_path, f'[notify.channels.hook]\nkind = "webhook"\nurl = "{receiver.url}"\n')
    for _ in range(2):
        r = _run(tmp_path, monkeypatch, "--owner", "team:search", "--send", "hook")
        assert r.exit_code == 0, r.output
    (body,) = receiver.bodies
    assert (body["kind"], body["owner"], body["week"]) == ("weekly_report", "search", "2026-W23")
    assert body["alert_key"] == "report|weekly|2026-W23|team:search|hook"
    assert [t["key"] for t in body["report"]["breakdowns"]["team"]] == ["search"]
    assert "http://" not in body["html"] and "https://" not in body["html"]


def test_a_failed_webhook_stays_pending_and_the_next_run_delivers_it(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    _setup(
        demo,
        tmp_path,
        f'[notify.channels.flaky]\nkind = "webhook"\nurl = "{receiver.url}"\n'
        "retries = 1\nbackoff_s = 0\n",
    )
    receiver.failing = True
    r = _run(tmp_path, monkeypatch, "--owner", "team:vision", "--send", "flaky")
    assert r.exit_code == 1 and "kept pending" in r.output
    receiver.failing = False
    r = _run(tmp_path, monkeypatch, "--owner", "team:vision", "--send", "flaky")
    assert r.exit_code == 0, r.output
    (body,) = receiver.bodies
    assert body["owner"] == "vision"


def test_send_by_email_is_a_readable_message(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mailbox: Mailbox
) -> None:
    _setup(
        demo,
        tmp_path,
        '[notify.channels.mail]\nkind = "email"\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {mailbox.port}\nto = ["lead@example.com"]\n',
    )
    r = _run(tmp_path, monkeypatch, "--owner", "team:recommendations", "--send", "mail")
    assert r.exit_code == 0, r.output
    (raw,) = mailbox.messages
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert (
        msg["Subject"]
        .strip()
        .startswith("[mlcost] Weekly cost report 2026-W23 (team recommendations)")
    )
    kinds = [p.get_content_type() for p in msg.walk()]
    assert "text/plain" in kinds and "text/html" in kinds


def test_per_owner_sends_each_team_its_own_report(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owners = [x.key for x in demo.report.breakdowns["team"] if x.this_week]
    owners = [o for o in owners if o != "(unallocated)"]
    channels = "".join(
        f'[notify.channels.team-{o}]\nkind = "file"\npath = "{tmp_path / o}.jsonl"\n'
        for o in owners
    )
    _setup(demo, tmp_path, channels)
    r = _run(tmp_path, monkeypatch, "--per-owner", "--send", "team-{owner}", "--out", "out")
    assert r.exit_code == 0, r.output
    for o in owners:
        (line,) = _lines(tmp_path / f"{o}.jsonl")
        assert line["owner"] == o
        assert [t["key"] for t in line["report"]["breakdowns"]["team"]] == [o]
        assert (tmp_path / "out" / f"weekly-2026-W23-team-{o}.html").exists()


def test_per_owner_with_a_missing_channel_sends_nothing(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only = tmp_path / "search.jsonl"
    _setup(demo, tmp_path, f'[notify.channels.t-search]\nkind = "file"\npath = "{only}"\n')
    r = _run(tmp_path, monkeypatch, "--per-owner", "--send", "t-{owner}")
    assert r.exit_code != 0
    message = str(r.exception)
    assert "No notify channel 't-data-eng', 't-llm-platform'," in message
    assert "Configured: alerts-file, t-search" in message
    assert not only.exists()


def test_unknown_channel_fails_before_computing(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(demo, tmp_path, "")
    r = _run(tmp_path, monkeypatch, "--send", "nowhere")
    assert r.exit_code != 0
    assert "Configured: alerts-file" in str(r.exception)
