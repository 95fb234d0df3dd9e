"""Every `mlcost` command with bad and empty inputs (issue 22): no warehouse, an empty
warehouse, a nonsense argument, a nonsense --format. Each must answer with a message, not a
traceback (an exception out of `main`), exit 0 or 2 (2: the user's input), and leave the
warehouse as it was. The long-running commands run as `watch --once`, `run -- true` and
`serve --port 99999` (its start-up check)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click
import pytest

from mlcost import open_warehouse
from mlcost.cli.main import COMMANDS, cli, main


def _leaves() -> list[tuple[str, ...]]:
    """Every command and group subcommand, from COMMANDS and each group's own list."""
    ctx = click.Context(cli)
    found: list[tuple[str, ...]] = []
    for name in sorted(COMMANDS):
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += [(name, sub) for sub in sorted(command.list_commands(ctx))]
        else:
            found.append((name,))
    return found


LEAVES = _leaves()
# What stands for a long-running command: one round, a command that ends, a start-up check.
LONG = {("watch",): ["--once"], ("run",): ["--", "true"], ("serve",): ["--port", "99999"]}
# No command creates a missing warehouse when it has nothing to load into it (a `watch` with
# sources configured does: it keeps that warehouse current); each refuses it with exit 2.
STILL_CREATES: set[tuple[str, ...]] = set()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(a warehouse path with nothing there, an empty warehouse), in an empty folder with
    no mlcost.toml and no MLCOST_* settings."""
    monkeypatch.chdir(tmp_path)
    for var in ("MLCOST_WAREHOUSE", "MLCOST_CONFIG", "MLCOST_MEMORY_LIMIT"):
        monkeypatch.delenv(var, raising=False)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    empty = tmp_path / "empty.duckdb"
    with open_warehouse(f"duckdb://{empty}"):
        pass
    return tmp_path / "none.duckdb", empty


def _run(warehouse: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(["--warehouse", str(warehouse), *argv])
    except BaseException as exc:  # what a user would see as a traceback
        pytest.fail(f"mlcost {' '.join(argv)} raised {type(exc).__name__}: {exc}")
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_every_command_is_listed() -> None:
    assert len(LEAVES) > len(COMMANDS)  # groups contribute their subcommands
    assert ("policies", "enforce") in LEAVES and ("spend",) in LEAVES


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_bad_and_empty_inputs_give_messages_not_tracebacks(
    command: tuple[str, ...], places: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    none, empty = places
    extra = LONG.get(command, [])
    before = _digest(empty)

    code, err = _run(none, [*command, *extra], capsys)
    assert code in (0, 2), err
    if command not in STILL_CREATES:
        assert not none.exists(), "a command with nothing to do created the warehouse"
    none.unlink(missing_ok=True)

    code, err = _run(empty, [*command, *extra], capsys)
    assert code in (0, 2), err
    code, err = _run(empty, [*command, "nonsense"], capsys)
    assert code in (0, 2), err
    code, err = _run(empty, [*command, "--format", "nonsense"], capsys)
    assert code == 2 and ("--format" in err or "nonsense" in err), err
    assert _digest(empty) == before, "the warehouse changed"
