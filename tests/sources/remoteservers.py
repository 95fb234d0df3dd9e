"""Object stores on loopback for the remote-source tests: a moto S3 server whose request log
is read back, and Azurite (the Azure Storage emulator, installed by ``make tools`` under
.tools/azurite)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

AZURITE = REPO / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's well-known development account (public, in Microsoft's Azurite docs).
AZURITE_ACCOUNT = "devstoreaccount1"
# The AWS secret key the tests set: asserted absent from every output, alert and stored row.
SECRET = "wJalrXUtnFEMI-not-a-real-secret-K7MDENGbPxRfiCY"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (Azurite: 400 on a bare GET)
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not start")


@dataclass
class Moto:
    url: str
    log: Path

    def object_gets(self, bucket: str) -> list[str]:
        """The GET requests for objects (not listings) the server has logged so far."""
        text = self.log.read_text(errors="replace")
        paths = re.findall(r'"GET (/[^ ]*) HTTP/1\.[01]" 2\d\d', text)
        return [p for p in paths if p.startswith(f"/{bucket}/") and "?" not in p]

    def reset(self) -> None:
        urllib.request.urlopen(
            urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        ).close()


@contextmanager
def running_moto(root: Path) -> Iterator[Moto]:
    port = free_port()
    log = root / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(f"http://127.0.0.1:{port}/moto-api/", proc, "moto_server")
        yield Moto(f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def running_azurite(root: Path) -> Iterator[str]:
    """Start Azurite's blob service on loopback; yield its connection string."""
    if not shutil.which("node"):
        pytest.skip("node is not installed: Azurite (the Azure Storage emulator) cannot run")
    if not AZURITE.exists():
        pytest.fail(f"{AZURITE} is missing: run `make tools` (installs Azurite from npm)")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(root / "azurite"),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/", proc, "azurite-blob")
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
