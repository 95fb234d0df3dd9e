"""``mlcost watch --every 15m``: ingest, re-evaluate budgets, insights and policies on a
schedule (:func:`mlcost.watching.run_round`).

One watcher at a time: an exclusive ``flock`` on ``watch.lock`` beside the warehouse (the XDG
data folder for an in-memory one); a second ``mlcost watch`` says who holds it and exits.
Safe to kill at any moment: every write is one warehouse transaction, and an alert whose
delivery was cut short is still pending and goes out on the next tick.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlcost.cli._common import settings_from, target_from, warehouse_from

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from mlcost.warehouse import Warehouse, WarehouseTarget

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


def _lock_path(target: WarehouseTarget) -> Path:
    """Beside the DuckDB file or in the Spark warehouse folder; else in the data folder."""
    from mlcost.config import data_dir

    return target.beside("watch.lock") or data_dir() / "watch.lock"


@click.command(epilog="Example: mlcost watch --every 15m (or --once from cron)")
@click.option("--every", help="Interval: 30s, 15m, 1h (default: [watch] every, else 15m).")
@click.option("--once", is_flag=True, help="Run one round and exit.")
@click.option("--execute", is_flag=True, help="Let policies act (default: dry-run).")
@click.pass_context
def watch(ctx: click.Context, every: str | None, once: bool, execute: bool) -> None:
    """Every interval: ingest [watch.sources], evaluate budgets and insights (alerts once
    each), deliver pending alerts, enforce policies.

    With --once, exits 1 when a policy decision failed (the round still went on past it)."""
    from mlcost.watching import run_round

    settings = settings_from(ctx)
    seconds = parse_every(every or settings.watch.every)
    # Only a watch that loads sources may create a missing warehouse; else "No warehouse".
    create = bool(settings.watch.sources)

    def opener() -> AbstractContextManager[Warehouse]:
        return warehouse_from(ctx, create=create)

    with watch_lock(_lock_path(target_from(ctx))):
        while True:
            began = time.monotonic()
            # An opener: the round lets go of the warehouse while it delivers alerts.
            r = run_round(opener, settings, execute=execute, say=_say)
            for step, reason in r.skipped.items():
                _say(f"{step}: skipped, {reason}")
            if settings.budgets and "budgets" not in r.skipped:
                _say(
                    f"budgets: {len(settings.budgets)} checked, {len(r.budget_alerts)} new alert(s)"
                )
            if settings.watch.insight_min_impact is not None and "insights" not in r.skipped:
                _say(f"insights: {r.findings} finding(s), {len(r.insight_alerts)} new alert(s)")
            if r.delivery is not None and (r.delivery.sent or r.delivery.failed):
                _say(
                    f"alerts: {len(r.delivery.sent)} alert(s) sent, {len(r.delivery.failed)} "
                    "delivery failure(s) kept for retry"
                )
            failed = sum(d.decision == "failed" for d in r.decisions)
            if settings.policies and "policies" not in r.skipped:
                acted = sum(d.decision == "acted" for d in r.decisions)
                _say(
                    f"policies: {len(r.decisions)} decision(s), {acted} acted on"
                    + (f", {failed} failed (the actions audit says why)" if failed else "")
                )
            if once:
                if failed:  # the round went on past them; the exit code still says so
                    ctx.exit(1)
                return
            time.sleep(max(0.0, seconds - (time.monotonic() - began)))


def _say(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()  # a supervisor (or a test) reads the progress as it happens
