"""Another process holding a DuckDB file, as `mlcost ingest` (read-write) or the server's
per-request open (read-only) holds it, for tests of what happens meanwhile."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def holding(path: Path, *, read_only: bool = False) -> Iterator[subprocess.Popen[str]]:
    """A process with ``path`` open until the block ends or its stdin is closed."""
    code = (
        "import sys, duckdb\n"
        f"c = duckdb.connect(sys.argv[1], read_only={read_only})\n"
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
