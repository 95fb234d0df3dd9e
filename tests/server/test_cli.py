"""`mlcost tokens` and `mlcost serve` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mlcost.cli.main import main
from tests.server.conftest import Demo, bearer, free_port, wait_for_health


def test_tokens_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wh = ["--warehouse", str(tmp_path / "w.duckdb")]
    assert main([*wh, "tokens", "create", "--scope", "read:team:search", "--name", "ci"]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("mlcost_") and "shown once" in err
    token_id = secret.split("_")[1]
    assert main([*wh, "tokens", "list", "--format", "json"]) == 0
    listed = capsys.readouterr().out
    assert token_id in listed and "read:team:search" in listed and secret not in listed
    assert main([*wh, "tokens", "revoke", token_id]) == 0
    assert "Revoked" in capsys.readouterr().out
    # Revoking twice, or an unknown id, says which ids are live.
    assert main([*wh, "tokens", "revoke", token_id]) == 2
    assert "mlcost tokens list" in capsys.readouterr().err


def test_tokens_refuse_unknown_scopes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wh = ["--warehouse", str(tmp_path / "w.duckdb")]
    assert main([*wh, "tokens", "create", "--scope", "write:all"]) == 2
    assert "read:team:<name>" in capsys.readouterr().err


def test_no_auth_refuses_a_public_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--no-auth", "--host", "0.0.0.0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_mlcost_serve_serves_the_warehouse(demo: Demo) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlcost.cli.main",
            "--warehouse",
            demo.settings.warehouse,
            "serve",
            "--port",
            str(port),
        ],
        cwd=demo.folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url)
        assert httpx.get(f"{url}/api/v1/budgets").status_code == 401
        r = httpx.get(f"{url}/api/v1/budgets", headers=bearer(demo.tokens["vision"]))
        assert [b["name"] for b in r.json()] == ["vision"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert b"tokens required" in err
