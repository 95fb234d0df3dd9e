"""A real Prometheus server on loopback, its storage backfilled from OpenMetrics text."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_prometheus(openmetrics: str, root: Path) -> Iterator[str]:
    """Backfill ``openmetrics`` with promtool, start prometheus on 127.0.0.1; yield its URL."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("prometheus/promtool not installed (make tools installs Debian's package)")
    history = root / "history.om.txt"
    history.write_text(openmetrics)
    data = root / "data"
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(history), str(data)],
        check=True,
        capture_output=True,
    )
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    port = _free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                with urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except (URLError, OSError):
                time.sleep(0.1)
        else:
            pytest.fail("prometheus did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
