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
