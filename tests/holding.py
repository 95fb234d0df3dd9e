"""Another process holding a DuckDB file, as `mlcost ingest` (read-write) or the server's
read-only open holds it, for tests of what happens meanwhile."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def holding(path: Path, *, read_only: bool = False) -> Iterator[subprocess.Popen[str]]:
    """A process with ``path`` open until the block ends or its stdin is closed.

    Like a DuckDB process that is not mlcost (no writer-waiting marker), it retries while
    another process holds the file (a server lets go of it after its idle second)."""
    code = (
        "import sys, time, duckdb\n"
        "deadline = time.monotonic() + 60\n"
        "while True:\n"
        "    try:\n"
        f"        c = duckdb.connect(sys.argv[1], read_only={read_only})\n"
        "        break\n"
        "    except duckdb.IOException:\n"
        "        if time.monotonic() > deadline:\n"
        "            raise\n"
        "        time.sleep(0.05)\n"
        "print('open', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        yield proc
    finally:
        if proc.stdin is not None and proc.stdin.closed:  # let go early by the test
            proc.stdin = None
        proc.communicate(timeout=60)
