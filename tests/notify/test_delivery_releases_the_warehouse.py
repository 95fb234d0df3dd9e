"""Issue 22: delivering alerts does not hold the warehouse. A real receiver on loopback that
takes 3 s per request; while `mlcost budgets check` (another process) waits on it, this
process opens the warehouse for writing and writes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlcost import open_warehouse
from tests.budgets.conftest import daily_spend


@pytest.fixture
def slow_receiver() -> Iterator[tuple[str, threading.Event, list[bytes]]]:
    arrived = threading.Event()
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            arrived.set()
            time.sleep(3)  # a slow receiver: the delivery is in flight meanwhile
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrived, bodies
    server.shutdown()
    server.server_close()


def test_another_process_writes_while_a_delivery_is_in_flight(
    tmp_path: Path, slow_receiver: tuple[str, threading.Event, list[bytes]]
) -> None:
    url, arrived, bodies = slow_receiver
    wh_url = f"duckdb://{tmp_path / 'w.duckdb'}"
    with open_warehouse(wh_url) as wh:
        daily_spend(wh, 20, {"vision": 40.0})  # 800 of 1000: two thresholds crossed
    (tmp_path / "mlcost.toml").write_text(
        f"""
[budgets.vision]
scope = {{ team = "vision" }}
amount = 1000
currency = "USD"
channels = ["hook"]

[notify.channels.hook]
kind = "webhook"
url = "{url}"
"""
    )
    check = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from mlcost.cli.main import main; sys.exit(main())",
            "--warehouse",
            wh_url,
            "budgets",
            "check",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert arrived.wait(timeout=300), "the receiver never got the alert"
        with open_warehouse(wh_url) as wh:  # refused while the other process held the file
            daily_spend(wh, 1, {"search": 5.0})
    finally:
        _out, err = check.communicate(timeout=300)
    assert check.returncode == 0, err
    assert len(bodies) == 2 and "Traceback" not in err
    with open_warehouse(wh_url, read_only=True) as wh:
        d = wh.table("alert_deliveries").to_pyarrow().to_pylist()
    assert [(r["status"], r["attempts"]) for r in d] == [("sent", 1), ("sent", 1)]
