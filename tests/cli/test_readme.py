"""README's "Use it on your bill": every command in it runs on the demo organization and
exits 0. Placeholders become the demo's folders, `watch` runs one round (`--once`) and
`serve` is started, answers, and is stopped."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mlcost.cli.main import main
from tests.conftest import REPO
from tests.server.conftest import free_port, wait_for_health


def readme_commands() -> list[str]:
    """The command lines of the section's shell block, comments dropped."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use it on your bill", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "README's 'Use it on your bill' has no ```sh block"
    lines = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line.startswith("mlcost ")]


COMMANDS = readme_commands()


def test_the_section_has_the_commands_a_new_user_needs() -> None:
    names = {shlex.split(c)[1] for c in COMMANDS}
    assert {"ingest", "status", "spend", "showback", "insights", "serve", "watch"} <= names


def _argv(line: str, demo: Path, tmp: Path) -> list[str]:
    """The line with the demo's folders for the placeholders, `watch` for one round."""
    line = line.replace("path/to/focus-export/", str(demo / "billing"))
    line = line.replace("--out reports/", f"--out {tmp / 'reports'}")
    line = line.replace("watch --every 15m", "watch --once")
    return shlex.split(line)[1:]


@pytest.mark.parametrize("line", [c for c in COMMANDS if shlex.split(c)[1] != "serve"])
def test_each_readme_command_runs_on_the_demo(
    line: str, in_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_argv(line, in_demo, tmp_path))
    out, err = capsys.readouterr()
    assert code == 0, f"{line}:\n{out}\n{err}"
    assert "Traceback" not in err


def test_readme_serve_starts_answers_and_stops(in_demo: Path) -> None:
    (line,) = [c for c in COMMANDS if shlex.split(c)[1] == "serve"]
    port = free_port()
    argv = [*shlex.split(line)[1:], "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlcost.cli.main", *argv],
        cwd=in_demo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url)
        # Tokens required (the README creates one first): the API refuses a request without.
        assert httpx.get(f"{url}/api/v1/budgets").status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, -15), err.decode()
    assert b"Traceback" not in err
