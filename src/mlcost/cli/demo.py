"""``mlcost demo``: generate the synthetic organization and show what it spends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mlcost.cli._common import format_option, render_rows

F = TypeVar("F", bound=Callable[..., Any])

_size = [
    click.option(
        "--days", type=int, default=30, show_default=True, help="Days of data, from 2026-05-01."
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes."),
    click.option(
        "--scale",
        type=float,
        default=1.0,
        show_default=True,
        help="1.0 is a few hundred thousand USD a month.",
    ),
]


def _with_size(f: F) -> F:
    for option in reversed(_size):
        f = option(f)
    return f


def _generate(out: Path, days: int, seed: int, scale: float, *, quiet: bool = False) -> None:
    from rich.progress import Progress

    from mlcost.demo import generate_demo

    with Progress(transient=True, disable=quiet) as bar:
        task = bar.add_task("generating", total=1.0)

        def step(label: str, done: float) -> None:
            bar.update(task, completed=done, description=f"generating: {label}")

        generate_demo(out, days=days, seed=seed, scale=scale, progress=step)


def _is_current(out: Path, days: int, seed: int, scale: float) -> bool:
    manifest = out / "manifest.json"
    if not manifest.exists():
        return False
    m = json.loads(manifest.read_text(encoding="utf-8"))
    return (m.get("days"), m.get("seed"), m.get("scale")) == (days, seed, scale)


@click.group(invoke_without_command=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("mlcost-demo"),
    show_default=True,
    help="Folder for the generated organization.",
)
@_with_size
@format_option
@click.pass_context
def demo(ctx: click.Context, out: Path, days: int, seed: int, scale: float, fmt: str) -> None:
    """Generate a fictional ML organization (or reuse it) and show its spend.

    Run `mlcost demo generate --help` to only write the files.
    """
    if ctx.invoked_subcommand is not None:
        return
    from mlcost.demo import summarize

    if not _is_current(out, days, seed, scale):
        _generate(out, days, seed, scale, quiet=fmt != "table")
    s = summarize(out)
    share = f"{s.untagged_share:.1%}"
    render_rows(
        [{"team": t, "EffectiveCost": c, "share": f"{c / s.total_usd:.1%}"} for t, c in s.by_team],
        ["team", "EffectiveCost", "share"],
        fmt,
        title="Spend by team (USD)",
        money_columns=["EffectiveCost"],
    )
    if fmt != "table":
        return
    render_rows(
        [{"provider": p, "EffectiveCost": c} for p, c in s.by_provider],
        ["provider", "EffectiveCost"],
        fmt,
        title="Spend by provider (USD)",
        money_columns=["EffectiveCost"],
    )
    click.echo(
        f"Total {s.total_usd:,.2f} USD; untagged (no team tag) {s.untagged_usd:,.2f} USD = {share}."
    )
    click.echo(f"Files in {out}/; planted waste in {out}/ground_truth.json.")


@demo.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write (billing/, telemetry/, workloads/ are replaced).",
)
@_with_size
def generate(out: Path, days: int, seed: int, scale: float) -> None:
    """Write FOCUS bills, GPU telemetry, scheduler records and ground_truth.json."""
    _generate(out, days, seed, scale)
    click.echo(f"Wrote the organization (seed {seed}, {days} days, scale {scale}) to {out}/")
