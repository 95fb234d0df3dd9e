"""A checkpoint is complete or invisible: latest_checkpoint never picks a half-written one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlcost.runtime import MARKER, checkpoint, latest_checkpoint


def _save(root: Path, step: int, payload: bytes = b"weights") -> Path:
    with checkpoint(root, step=step) as folder:
        (folder / "model.bin").write_bytes(payload)
        (folder / "sub").mkdir()
        (folder / "sub" / "optim.bin").write_bytes(payload * 2)
    return root / f"step-{step:010d}"


def test_newest_complete_checkpoint_wins(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "missing") is None  # first run: start from scratch
    _save(tmp_path, 5)
    newest = _save(tmp_path, 12)
    marker = json.loads((newest / MARKER).read_text())
    assert marker["step"] == 12
    assert marker["files"] == {"model.bin": 7, "sub/optim.bin": 14}
    assert latest_checkpoint(tmp_path) == newest


def test_a_write_that_raises_leaves_nothing(tmp_path: Path) -> None:
    good = _save(tmp_path, 1)

    def write_then_fail() -> None:
        with checkpoint(tmp_path, step=2) as folder:
            (folder / "model.bin").write_bytes(b"half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_then_fail()
    assert latest_checkpoint(tmp_path) == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-0000000001"]


def test_killed_writes_are_never_picked(tmp_path: Path) -> None:
    good = _save(tmp_path, 3)
    # Killed before the rename: a .tmp- folder with data but no marker.
    tmp = tmp_path / f".tmp-step-0000000009-{os.getpid() + 1}"
    tmp.mkdir()
    (tmp / "model.bin").write_bytes(b"partial")
    # Copied in by hand without a marker, or truncated after it was published.
    (tmp_path / "step-0000000010").mkdir()
    (tmp_path / "step-0000000010" / "model.bin").write_bytes(b"x")
    truncated = _save(tmp_path, 11)
    (truncated / "model.bin").write_bytes(b"w")
    # A marker that is not JSON (the marker write itself was cut).
    broken = _save(tmp_path, 12)
    (broken / MARKER).write_text('{"step": 12, "fi')
    assert latest_checkpoint(tmp_path) == good


def test_keep_prunes_old_complete_checkpoints(tmp_path: Path) -> None:
    for step in (1, 2, 3):
        with checkpoint(tmp_path, step=step, keep=2) as folder:
            (folder / "m").write_text(str(step))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-0000000002", "step-0000000003"]


def test_resaving_a_step_replaces_it_and_negative_steps_are_refused(tmp_path: Path) -> None:
    _save(tmp_path, 4, b"old")
    again = _save(tmp_path, 4, b"newer")
    assert (again / "model.bin").read_bytes() == b"newer"
    with pytest.raises(ValueError, match="zero or more"), checkpoint(tmp_path, step=-1):
        pass
