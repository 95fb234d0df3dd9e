"""The root command: internal errors (a message and a log file, --debug the traceback),
shell completion, the commands that are listed."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from mlcost.cli import main as entry
from mlcost.cli.main import main


@click.command()
def boom() -> None:
    """A command with a bug in it."""
    raise ZeroDivisionError("the bug")


@pytest.fixture
def buggy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `boom` command registered like any other; the data folder in tmp_path."""
    monkeypatch.setitem(entry.COMMANDS, "boom", f"{__name__}:boom")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("MLCOST_DEBUG", raising=False)
    return tmp_path / "mlcost" / "logs" / "error.log"


def test_an_internal_error_says_where_the_details_went(
    buggy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["boom"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "Internal error: ZeroDivisionError: the bug" in err
    assert str(buggy) in err and "--debug" in err
    log = buggy.read_text()
    assert "mlcost" in log and "Traceback" in log and "ZeroDivisionError: the bug" in log


def test_debug_shows_the_traceback(buggy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "boom"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "raise ZeroDivisionError" in err
    assert not buggy.exists()
    # --debug lasts one call only.
    assert main(["boom"]) == 1
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_script_is_produced(
    shell: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `eval "$(_MLCOST_COMPLETE=bash_source mlcost)"` runs (README, mlcost --help).
    monkeypatch.setenv("_MLCOST_COMPLETE", f"{shell}_source")
    with pytest.raises(SystemExit) as done:
        main([])
    assert done.value.code == 0
    script = capsys.readouterr().out
    assert "_MLCOST_COMPLETE" in script and f"{shell}_complete" in script


def test_completion_lists_the_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What bash asks while the user types `mlcost sp<TAB>`.
    monkeypatch.setenv("_MLCOST_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "mlcost sp")
    monkeypatch.setenv("COMP_CWORD", "1")
    with pytest.raises(SystemExit):
        main([])
    assert capsys.readouterr().out.split() == ["plain,spend"]
