"""``mlcost watch --every 15m``: re-evaluate budgets and policies on a schedule.

One watcher at a time: an exclusive ``flock`` on ``watch.lock`` beside the warehouse (the XDG
data folder for an in-memory one); a second ``mlcost watch`` says who holds it and exits.
Safe to kill at any moment: every write is one warehouse transaction, and an alert whose
delivery was cut short is still pending and goes out on the next tick.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from mlcost.cli._common import settings_from, warehouse_from

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_every(text: str) -> float:
    """``"15m"`` -> 900.0 seconds; also ``s`` and ``h``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh])\s*", text)
    if not match:
        raise click.BadParameter(f"{text!r}: write a number and s, m or h, e.g. 15m.")
    return float(match.group(1)) * _UNITS[match.group(2)]


class LockHeld(click.ClickException):
    exit_code = 0  # a second watcher is expected, not an error


@contextmanager
def watch_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking ``flock`` on ``path`` (released when the process dies)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise LockHeld(
                f"another mlcost watch holds {path} (pid {holder}); this one exits."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def _lock_path(warehouse: str) -> Path:
    from mlcost.config import data_dir
    from mlcost.warehouse import parse_url

    target = parse_url(warehouse)
    return data_dir() / "watch.lock" if target == ":memory:" else Path(target + ".watch.lock")


@click.command()
@click.option("--every", default="15m", show_default=True, help="Interval: 30s, 15m, 1h.")
@click.option("--once", is_flag=True, help="Run one round and exit.")
@click.option("--execute", is_flag=True, help="Let policies act (default: dry-run).")
@click.pass_context
def watch(ctx: click.Context, every: str, once: bool, execute: bool) -> None:
    """Every interval: evaluate budgets (alerts once per threshold), then policies."""
    from mlcost.budgets import evaluate
    from mlcost.policies import enforce

    seconds = parse_every(every)
    settings = settings_from(ctx)
    with watch_lock(_lock_path(settings.warehouse)):
        while True:
            with warehouse_from(ctx) as wh:
                if settings.budgets:
                    _, report = evaluate(wh, settings.budgets, settings.channels)
                    click.echo(
                        f"budgets: {len(settings.budgets)} checked, {len(report.sent)} alert(s) "
                        f"sent, {len(report.failed)} delivery failure(s) kept for retry"
                    )
                if settings.policies:
                    decisions = enforce(
                        wh, settings.policies, execute=execute, budgets=settings.budgets
                    )
                    acted = sum(d.outcome == "executed" for d in decisions)
                    click.echo(f"policies: {len(decisions)} decision(s), {acted} executed")
            if once:
                return
            time.sleep(seconds)
