"""The real server on loopback: the demo organization, tokens of each scope, uvicorn in a thread.

One demo warehouse per test session (`mlcost demo`: ingest, showback of its first month,
insights, budgets) and one server over it; tests talk to it with httpx like any client.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip(
    "fastapi", reason="the server extra is not installed (pip install mlcost[server])"
)

from mlcost.config import Settings, load_settings
from mlcost.warehouse import open_warehouse

DAYS = "10"
SCALE = "0.2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_health(url: str) -> None:
    """Until ``url``'s /healthz answers (a `mlcost serve` subprocess starting), or fail."""
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("mlcost serve did not start")


@contextmanager
def serving(settings: Settings, *, no_auth: bool = False) -> Iterator[str]:
    """``create_app(settings)`` served by uvicorn on a free 127.0.0.1 port; yield its URL."""
    import uvicorn

    from mlcost.server.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(settings, no_auth=no_auth),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class Demo:
    folder: Path
    settings: Settings
    tokens: dict[str, str]  # "admin", "all", "search", "vision", "revoked" -> secret


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo organization, loaded and allocated like `mlcost demo` does, plus tokens."""
    from mlcost.cli.main import main
    from mlcost.server.auth import create_token, revoke_token

    folder = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(folder), "--days", DAYS, "--scale", SCALE]) == 0
    url = f"duckdb://{folder / 'warehouse.duckdb'}"
    home = tmp_path_factory.mktemp("home")
    settings = load_settings(warehouse=url, cwd=folder, env={"HOME": str(home)})
    assert settings.budgets, "the demo's mlcost.toml was not read"
    tokens = {}
    with open_warehouse(url) as wh:
        for name, scope in (
            ("admin", "admin"),
            ("all", "read:all"),
            ("search", "read:team:search"),
            ("vision", "read:team:vision"),
            ("revoked", "read:all"),
        ):
            info, tokens[name] = create_token(wh, [scope], name)
            if name == "revoked":
                revoke_token(wh, info.token_id)
    return Demo(folder, settings, tokens)


@pytest.fixture(scope="session")
def base_url(demo: Demo) -> Iterator[str]:
    with serving(demo.settings) as url:
        yield url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
