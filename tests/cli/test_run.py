"""``mlcost run -- CMD``: exit status passed through, budget stop by SIGTERM, records in the spool."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from mlcost.cli.main import main
from mlcost.runtime import latest_checkpoint
from tests.runtime.servers import read_spool

# A command that checkpoints when it is told to stop (what the budget guard sends).
CHILD = textwrap.dedent(
    """
    import os, sys, time
    from mlcost.runtime import checkpoint, on_interruption
    def save(interruption):
        with checkpoint(sys.argv[1], step=1) as folder:
            (folder / "run_id").write_text(os.environ["MLCOST_RUN_ID"])
    on_interruption(save, clouds=())
    for _ in range(6000):
        time.sleep(0.01)
    """
)


@pytest.fixture(autouse=True)
def _no_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCOST_NO_METADATA", "1")


def test_exit_status_and_tags_pass_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(
            ["run", "--spool", str(tmp_path), "--tag", "team=nlp", "--name", "fails", "--",
             sys.executable, "-c", "raise SystemExit(3)"]
        )  # fmt: skip
    assert exited.value.code == 3
    final = read_spool(tmp_path, "run")[-1]
    assert (final["name"], final["status"], final["tags"]) == ("fails", "failed", {"team": "nlp"})
    assert "no GPU" in capsys.readouterr().err


def test_budget_stop_sends_sigterm_and_the_command_checkpoints(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(CHILD)
    ck = tmp_path / "ck"
    # 1 USD a second, stopped at 5 USD: the child has time to start Python, import mlcost and
    # install its SIGTERM handler first, even on a loaded machine (at 0.5 USD it sometimes had
    # not, and died of the signal itself: exit -15).
    with pytest.raises(SystemExit) as exited:
        main(
            ["run", "--spool", str(tmp_path / "spool"), "--hourly-price", "3600",
             "--max-cost", "5", "--interval", "0.1", "--", sys.executable, str(script), str(ck)]
        )  # fmt: skip
    assert exited.value.code == 143  # the command's own exit after its save (128 + SIGTERM)
    final = read_spool(tmp_path / "spool", "run")[-1]
    assert final["status"] == "stopped" and "Budget reached" in final["stopped_reason"]
    saved = latest_checkpoint(ck)
    assert saved is not None and (saved / "run_id").read_text() == final["run_id"]


def test_bad_tag_and_missing_command_are_usage_errors(tmp_path: Path) -> None:
    assert main(["run", "--spool", str(tmp_path), "--tag", "oops", "--", "true"]) == 2
    assert main(["run", "--spool", str(tmp_path), "--", "/no/such/command"]) == 2


def test_a_command_ended_by_the_budgets_sigterm_exits_143(tmp_path: Path) -> None:
    # `sleep` has no SIGTERM handler: it dies of the signal (Popen's -15). The shell
    # convention is 128 + 15 = 143, not -15 & 255 = 241.
    with pytest.raises(SystemExit) as exited:
        main(
            ["run", "--spool", str(tmp_path), "--hourly-price", "3600", "--max-cost", "1",
             "--interval", "0.1", "--grace", "30", "--", "sleep", "60"]
        )  # fmt: skip
    assert exited.value.code == 143
    final = read_spool(tmp_path, "run")[-1]
    assert final["status"] == "stopped" and "Budget reached" in final["stopped_reason"]
