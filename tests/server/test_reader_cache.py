"""The server's answer cache: one computation per question and state of the warehouse file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mlcost import open_warehouse
from mlcost.server._state import Reader
from mlcost.warehouse import DuckDBTarget


def test_a_question_asked_by_many_at_once_is_computed_once(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    open_warehouse(f"duckdb://{path}").close()
    reader = Reader(DuckDBTarget(str(path)))
    release = threading.Event()
    calls: list[int] = []
    answers: list[str] = []

    def compute() -> str:
        calls.append(1)
        release.wait(10)  # the others ask while this one computes
        return "total: 42 USD"

    def ask() -> None:
        answers.append(reader.memo(("spend", "team"), compute))

    askers = [threading.Thread(target=ask) for _ in range(8)]
    for t in askers:
        t.start()
    release.wait(0.5)
    release.set()
    for t in askers:
        t.join(20)
    assert answers == ["total: 42 USD"] * 8
    assert len(calls) == 1
    assert reader.memo(("spend", "team"), lambda: "not asked again") == "total: 42 USD"
    # Another question, or the same once the file changed (a write), is computed again.
    assert reader.memo(("spend", "ServiceName"), lambda: "other") == "other"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert reader.memo(("spend", "team"), lambda: "after a write") == "after a write"


def test_a_waiting_writer_gets_the_file_from_a_reader_that_never_idles(tmp_path: Path) -> None:
    """Two threads keep the reader's open in use without a pause; a writer in another process
    (`mlcost tokens create`) marks the file, the reader lets go, the writer gets in, and the
    reader's next open sees what it wrote."""
    import subprocess
    import sys
    from collections import Counter

    mlcost = (sys.executable, "-m", "mlcost.cli.main")

    from mlcost.errors import WarehouseLocked

    path = tmp_path / "w.duckdb"
    open_warehouse(f"duckdb://{path}").close()
    reader = Reader(DuckDBTarget(str(path)))
    stop = threading.Event()
    seen: Counter[str] = Counter()

    def busy() -> None:
        while not stop.is_set():
            try:
                with reader.open() as wh:
                    wh.tables()
                seen["read"] += 1
            except WarehouseLocked:
                seen["locked"] += 1
                stop.wait(0.01)

    readers = [threading.Thread(target=busy) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        while not seen["read"]:
            stop.wait(0.01)
        writer = subprocess.run(
            [*mlcost, "--warehouse", str(path), "tokens", "create", "--scope", "read:all"],
            capture_output=True,
            text=True,
            env={**os.environ, "MLCOST_LOCK_WAIT": "120"},
            timeout=240,
            check=False,
        )
    finally:
        stop.set()
        for t in readers:
            t.join(30)
    assert writer.returncode == 0, writer.stderr
    assert seen["read"] > 0 and seen["locked"] > 0  # it did wait, and was let in
    assert not (tmp_path / "w.duckdb.writer-waiting").exists()
    token = writer.stdout.strip().splitlines()[-1]
    principal = reader.principal(token)
    assert principal is not None and "read:all" in principal.scopes
