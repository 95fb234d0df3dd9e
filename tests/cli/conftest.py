"""The demo organization as `mlcost demo` leaves it, once per run, for the CLI contract tests
(the command line a new user meets first)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mlcost demo --days 7 --scale 0.5` (loaded, allocated, insights saved), its
    mlcost.toml as the demo writes it (budgets and the seed's guardrails). Commands run with this folder as the working
    directory read that file, as the demo tells its user (`cd mlcost-demo && ...`)."""
    from mlcost.cli.main import main

    out = tmp_path_factory.mktemp("cli-demo")
    assert main(["demo", "--out", str(out), "--days", "7", "--scale", "0.5"]) == 0
    return out


@pytest.fixture
def in_demo(demo_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The demo folder as working directory, at 100 columns, with no MLCOST_* from outside
    and the user's folders in tmp_path."""
    monkeypatch.chdir(demo_folder)
    for var in ("MLCOST_WAREHOUSE", "MLCOST_CONFIG", "MLCOST_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.setenv("COLUMNS", "100")
    return demo_folder
