"""Issue 22 item 3: `mlcost serve` answers while `mlcost tokens create` and `mlcost ingest` write.

DuckDB admits one read-write process or many read-only ones: the server keeps a read-only open
while requests come, a waiting writer marks the file (``<file>.writer-waiting``) and the server
lets go, and while a writer holds the file the API answers 503 with Retry-After. Several
clients poll a real `mlcost serve` with questions it has not answered yet (each a real read)
while both writers run as the user runs them; both writers succeed, the clients see only 200
or 503, and the next answer holds the new month's spend.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from mlcost import ingest_focus, open_warehouse, spend
from mlcost.cli.main import main
from mlcost.testing import write_focus_file
from tests.server.conftest import bearer, free_port, wait_for_health

CLIENTS = 3
MAX_S = 240  # bound on the whole exchange, not a timing assertion


def _mlcost(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcost.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=MAX_S,
        check=False,
    )


def test_serving_while_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "w.duckdb")
    first = write_focus_file(tmp_path / "may.csv", 200)
    assert main(["--warehouse", db, "ingest", "focus", str(first)]) == 0
    assert main(["--warehouse", db, "tokens", "create", "--scope", "admin"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    second = write_focus_file(tmp_path / "june.csv", 300, period=datetime(2026, 6, 1, tzinfo=UTC))

    env = {**os.environ, "MLCOST_LOCK_WAIT": "120"}
    port = free_port()
    log = tmp_path / "server.log"  # the server's tracebacks, shown when a request fails
    err = log.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlcost.cli.main", "--warehouse", db, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=err,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    seen: Counter[int] = Counter()
    bad: list[str] = []
    lock = threading.Lock()

    def poll(n: int) -> None:
        deadline = time.monotonic() + MAX_S
        with httpx.Client(base_url=url, headers=bearer(token), timeout=60) as client:
            i = 0
            while not stop.is_set() and time.monotonic() < deadline:
                i += 1  # a new window each time: no cached answer, a real read each request
                first = date(2025, 1, 1) + timedelta(days=i % 500)
                params = {
                    "by": ("ServiceName", "RegionId", "tag:team")[n],
                    "from": first.isoformat(),
                    "to": (first + timedelta(days=1 + i // 500)).isoformat(),
                }
                r = client.get("/api/v1/spend", params=params)
                with lock:
                    seen[r.status_code] += 1
                    if r.status_code not in (200, 503) or (
                        r.status_code == 503 and not r.headers.get("retry-after", "").isdigit()
                    ):
                        bad.append(f"{r.status_code} {r.headers} {r.text[:300]}")

    try:
        wait_for_health(url)
        clients = [threading.Thread(target=poll, args=(n,)) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        while sum(seen.values()) < CLIENTS:  # every client is polling before the writers run
            time.sleep(0.05)
        created = _mlcost("--warehouse", db, "tokens", "create", "--scope", "read:all", env=env)
        ingested = _mlcost("--warehouse", db, "ingest", "focus", str(second), env=env)
        stop.set()
        for c in clients:
            c.join(timeout=MAX_S)
        assert created.returncode == 0, created.stderr
        assert ingested.returncode == 0, ingested.stderr
        assert "300 rows" in ingested.stdout
        print(f"clients saw {dict(seen)}")  # shown with pytest -s
        assert not bad, (bad[:3], log.read_text()[-4000:])
        assert seen[200] > 0
        # The token created while serving works, and the new month is served: June's spend
        # is what the library makes of the June file alone.
        fresh = created.stdout.strip().splitlines()[-1]
        june = {"by": "ServiceName", "from": "2026-06-01"}
        r = httpx.get(f"{url}/api/v1/spend", params=june, headers=bearer(fresh))
        assert r.status_code == 200
        with open_warehouse("duckdb://:memory:") as alone:
            ingest_focus(alone, [second])
            expected = {
                row["ServiceName"]: Decimal(row["EffectiveCost"])
                for row in spend(alone, ["ServiceName"]).to_pyarrow().to_pylist()
            }
        served = {
            row["keys"]["ServiceName"]: Decimal(row["cost"]["amount"]) for row in r.json()["rows"]
        }
        assert served == expected and sum(expected.values()) > 0
    finally:
        stop.set()
        server.terminate()
        server.communicate(timeout=30)
        err.close()
