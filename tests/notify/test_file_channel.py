"""The file channel never holds an alert twice, even when a kill cut the commit after the write."""

from __future__ import annotations

import json
from pathlib import Path

from mlcost.config import parse_channels
from mlcost.notify import send


def test_a_resent_alert_is_not_written_twice(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    channel = parse_channels({"channels": {"log": {"kind": "file", "path": str(path)}}})["log"]
    first = {"alert_key": "budget|vision|2026-10-01|actual|0.75", "message": "75%"}
    similar = {"alert_key": "budget|vision|2026-10-01|actual|0.75x", "message": "not the same"}
    for payload in (first, first, similar, first):  # the second try: after a kill, resent
        send(channel, payload)
    keys = [json.loads(line)["alert_key"] for line in path.read_text().splitlines()]
    assert keys == [first["alert_key"], similar["alert_key"]]
