"""Exactly one alert per threshold per period, over repeated runs, a restart and a failure."""

from __future__ import annotations

import json
from email import message_from_bytes
from pathlib import Path

from mlcost import open_warehouse
from mlcost.budgets import evaluate
from mlcost.config import parse_budgets, parse_channels
from mlcost.notify import deliver_pending, insight_alerts, record_alerts
from tests.budgets.conftest import daily_spend
from tests.notify.conftest import Mailbox, Receiver

VISION = parse_budgets(
    {
        "vision": {
            "amount": 1000,
            "currency": "USD",
            "scope": {"team": "vision"},
            "channels": ["hook", "slack", "mail"],
        }
    }
)


def _channels(rec: Receiver, box: Mailbox) -> dict[str, object]:
    return dict(
        parse_channels(
            {
                "channels": {
                    "hook": {"kind": "webhook", "url": rec.url, "retries": 2, "backoff_s": 0},
                    "slack": {"kind": "slack", "url": rec.url, "retries": 2, "backoff_s": 0},
                    "mail": {
                        "kind": "email",
                        "smtp_host": "127.0.0.1",
                        "smtp_port": box.port,
                        "to": "ml-team@example.com",
                    },
                }
            }
        )
    )


def test_each_threshold_fires_once_over_runs_and_a_restart(
    wh_url: str, receiver: Receiver, mailbox: Mailbox
) -> None:
    channels = _channels(receiver, mailbox)
    with open_warehouse(wh_url) as wh:
        daily_spend(wh, 20, {"vision": 40.0})  # 800 of 1000: actual 75%, forecast 100%
        for _ in range(3):
            evaluate(wh, VISION, channels)  # type: ignore[arg-type]
    with open_warehouse(wh_url) as wh:  # a restart: new process state, same warehouse
        evaluate(wh, VISION, channels)  # type: ignore[arg-type]
        generic = [b for b in receiver.bodies if "alert_key" in b]
        slack = [b for b in receiver.bodies if "alert_key" not in b]
        assert sorted((b["kind"], b["threshold"]) for b in generic) == [
            ("actual", 0.75),
            ("forecast", 1.0),
        ]
        assert all(b["currency"] == "USD" for b in generic)
        assert len(slack) == 2 and all("Budget 'vision'" in b["text"] for b in slack)
        assert len(mailbox.messages) == 2
        mail = message_from_bytes(mailbox.messages[0])
        assert mail["To"] == "ml-team@example.com" and "vision" in mail["Subject"]
        # The next threshold in the same period fires once more, and only it.
        daily_spend(wh, 5, {"vision": 20.0})  # +100 -> 900: 90%
        evaluate(wh, VISION, channels)  # type: ignore[arg-type]
        evaluate(wh, VISION, channels)  # type: ignore[arg-type]
        kinds = [(b["kind"], b["threshold"]) for b in receiver.bodies if "alert_key" in b]
        assert kinds.count(("actual", 0.9)) == 1 and len(kinds) == 3
        assert wh.table("alerts").count().execute() == 3


def test_a_failing_receiver_gets_the_alert_later_once(
    wh_url: str, receiver: Receiver, mailbox: Mailbox
) -> None:
    channels = _channels(receiver, mailbox)
    receiver.failing = True
    with open_warehouse(wh_url) as wh:
        daily_spend(wh, 20, {"vision": 40.0})
        _, report = evaluate(wh, VISION, channels)  # type: ignore[arg-type]
        assert {c for _, c, _ in report.failed} == {"hook", "slack"}
        assert {c for _, c in report.sent} == {"mail"}
        d = wh.table("alert_deliveries")
        tried = d.filter(d.channel == "hook").to_pyarrow().to_pylist()
        assert all(r["status"] == "pending" and r["attempts"] == 2 for r in tried)  # 2 tries
        assert all("HTTP 503" in r["last_error"] for r in tried)
    receiver.failing = False
    with open_warehouse(wh_url) as wh:  # later, after a restart
        for _ in range(2):
            evaluate(wh, VISION, channels)  # type: ignore[arg-type]
        assert len([b for b in receiver.bodies if "alert_key" in b]) == 2
        assert len(receiver.bodies) == 4 and len(mailbox.messages) == 2
        d = wh.table("alert_deliveries")
        assert set(d.status.to_pyarrow().to_pylist()) == {"sent"}


def test_insight_hook_alerts_once_above_the_impact(wh_url: str, tmp_path: Path) -> None:
    channels = parse_channels(
        {"channels": {"f": {"kind": "file", "path": str(tmp_path / "a.jsonl")}}}
    )
    findings = [
        {
            "id": "idle-gpu:node-7",
            "title": "Idle GPUs on node-7",
            "impact": 1200.0,
            "currency": "USD",
        },
        {"id": "tiny", "title": "Small thing", "impact": 3.0, "currency": "USD"},
    ]
    with open_warehouse(wh_url) as wh:
        for _ in range(2):
            record_alerts(wh, insight_alerts(findings, min_impact=100, channels=["f"]), channels)
            deliver_pending(wh, channels)
    lines = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [x["alert_key"] for x in lines] == ["insight|idle-gpu:node-7"]


def test_a_failing_channel_never_blocks_the_others_nor_leaks_its_url(
    wh_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    from mlcost.config import ChannelConfig
    from tests.notify.conftest import _free_port

    dead = f"http://127.0.0.1:{_free_port()}/services/T0/B0/s3cr3t-dead"  # nothing listens
    channels = {
        # Built in code, past the config's checks: a Slack URL without its scheme (the attack
        # run's case: urllib raises ValueError, not an OSError) ...
        "a-broken": ChannelConfig("a-broken", "slack", url="hooks.slack.com/services/T/B/tok3n"),
        # ... a receiver that refuses connections, its token in the path ...
        "b-dead": ChannelConfig("b-dead", "webhook", url=dead, retries=2, backoff_s=0),
        # ... an address that smuggles a header: email raises ValueError before any SMTP ...
        "c-mail": ChannelConfig("c-mail", "email", smtp_port=1, to=("a@x.org\nBcc: b@y.org",)),
        # ... and two that work: each must still get the alert.
        "hook": ChannelConfig("hook", "webhook", url=receiver.url, backoff_s=0),
        "log": ChannelConfig("log", "file", path=str(tmp_path / "alerts.jsonl")),
    }
    alerts = insight_alerts(
        [{"id": "idle-1", "title": "Idle p4d", "impact": 900.0, "currency": "USD"}],
        min_impact=100,
        channels=sorted(channels),
    )
    with open_warehouse(wh_url) as wh:
        record_alerts(wh, alerts, channels)
        report = deliver_pending(wh, channels, sleep=lambda _s: None)
        assert sorted(c for _, c in report.sent) == ["hook", "log"]
        assert [b["alert_key"] for b in receiver.bodies] == ["insight|idle-1"]
        assert "insight|idle-1" in (tmp_path / "alerts.jsonl").read_text()
        failed = {c: e for _, c, e in report.failed}
        assert sorted(failed) == ["a-broken", "b-dead", "c-mail"]
        assert "email channel 'c-mail' failed: ValueError" in failed["c-mail"]
        d = wh.table("alert_deliveries")
        rows = {r["channel"]: r for r in d.to_pyarrow().to_pylist()}
        assert (rows["a-broken"]["status"], rows["b-dead"]["status"]) == ("pending", "pending")
        stored = " ".join(str(r["last_error"]) for r in rows.values())
    # The failures say which receiver, never its token: not in the report, not in the table.
    assert dead.split("/services")[0] + "/…" in failed["b-dead"]
    for secret in ("tok3n", "s3cr3t", "/services/"):
        assert secret not in " ".join(failed.values()) + stored
