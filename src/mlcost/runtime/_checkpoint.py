"""Checkpoints that are either complete or invisible.

Protocol: a checkpoint is a folder ``<dir>/step-<NNNNNNNNNN>``. It is written as
``<dir>/.tmp-step-<N>-<pid>``; when the writer returns, a marker file ``MLCOST_COMPLETE``
(JSON: step, time, and the size of every file) is written and fsynced, then the folder is
renamed into place (``rename`` is atomic within one filesystem). :func:`latest_checkpoint`
only picks folders whose marker is present and whose files still have the sizes it lists, so
a write killed half-way (a ``.tmp-`` folder, or files changed after the marker) is never
picked.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with checkpoint(root, step=10) as folder:
    ...     _ = (folder / "model.bin").write_bytes(b"weights")
    >>> latest_checkpoint(root).name
    'step-0000000010'
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["MARKER", "checkpoint", "latest_checkpoint"]

MARKER = "MLCOST_COMPLETE"
_PREFIX = "step-"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sizes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER
    }


@contextmanager
def checkpoint(directory: str | Path, step: int, *, keep: int | None = None) -> Iterator[Path]:
    """Yield an empty folder to write checkpoint ``step`` into; publish it when the block ends.

    If the block raises, the partial folder is removed and nothing is published. ``keep=N``
    deletes all but the newest ``N`` complete checkpoints afterwards (None keeps all). The time
    spent is added to the active tracked run's checkpoint time.
    """
    if step < 0:
        raise ValueError(f"checkpoint step must be zero or more, got {step}")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{step:010d}"
    tmp = root / f".tmp-{_PREFIX}{step:010d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    started = time.monotonic()
    try:
        yield tmp
        marker = {
            "step": step,
            "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "files": _sizes(tmp),
        }
        for path in tmp.rglob("*"):
            if path.is_file():
                with path.open("rb+") as fh:
                    os.fsync(fh.fileno())
        with (tmp / MARKER).open("w", encoding="utf-8") as fh:
            json.dump(marker, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        if final.exists():  # re-saving the same step replaces it
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        from mlcost.runtime._tracker import current_run

        run = current_run()
        if run is not None:
            run.add_checkpoint_time(time.monotonic() - started)
    if keep is not None:
        complete = _complete(root)
        for _, old in complete[:-keep] if keep > 0 else complete:
            shutil.rmtree(old, ignore_errors=True)


def _is_complete(folder: Path) -> int | None:
    """The step of a complete checkpoint folder, else None."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        files = marker["files"]
        step = int(marker["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for name, size in files.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != size:
            return None
    return step


def _complete(root: Path) -> list[tuple[int, Path]]:
    found = []
    for folder in root.glob(f"{_PREFIX}*"):
        if folder.is_dir() and (step := _is_complete(folder)) is not None:
            found.append((step, folder))
    return sorted(found)


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The complete checkpoint with the highest step in ``directory``, or None (also when the
    folder does not exist yet: a first run starts from scratch)."""
    root = Path(directory)
    if not root.is_dir():
        return None
    complete = _complete(root)
    return complete[-1][1] if complete else None
