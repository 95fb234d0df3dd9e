"""``mlcost demo``: generate the synthetic organization and show what it spends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mlcost.cli._common import format_option, render_rows

if TYPE_CHECKING:
    from mlcost.demo import DemoSummary

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
    quiet = fmt != "table"
    if not _is_current(out, days, seed, scale):
        _generate(out, days, seed, scale, quiet=quiet)
    s = _load_and_summarize(out, quiet=quiet)
    money = f"EffectiveCost ({s.currency})"
    render_rows(
        [{"team": t, money: c, "share": f"{c / s.total:.1%}"} for t, c in s.by_team],
        ["team", money, "share"],
        fmt,
        title=f"Spend by team tag ({s.currency})",
        money_columns=[money],
    )
    if quiet:
        return
    render_rows(
        [{"provider": p, money: c} for p, c in s.by_provider],
        ["provider", money],
        fmt,
        title=f"Spend by provider ({s.currency})",
        money_columns=[money],
    )
    click.echo(
        f"Total {s.total:,.2f} {s.currency}; untagged (no team tag) {s.untagged:,.2f} "
        f"{s.currency} = {s.untagged_share:.1%}."
    )
    click.echo(
        "Team tags are grouped as the bill writes them (team, Team or team_name); spellings "
        "such as 'ml-search' and 'search' are still apart."
    )
    click.echo(
        f"Warehouse: {out / WAREHOUSE}; planted waste: {out}/ground_truth.json.\n"
        f"Explore: mlcost --warehouse {out / WAREHOUSE} spend --by ServiceName"
    )


WAREHOUSE = "warehouse.duckdb"


def _load_and_summarize(out: Path, *, quiet: bool) -> DemoSummary:
    """Ingest the demo's FOCUS files into a fresh warehouse in ``out`` and summarize it."""
    from rich.progress import Progress

    from mlcost import ingest_focus, open_warehouse
    from mlcost.demo import summarize
    from mlcost.sources import ingest_auto

    db = out / WAREHOUSE
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    files = sorted((out / "billing").glob("*.csv"))
    with (
        open_warehouse(f"duckdb://{db.resolve()}") as wh,
        Progress(transient=True, disable=quiet) as bar,
    ):
        task = bar.add_task("ingesting", total=1.0)

        def step(done: float, name: str) -> None:
            bar.update(task, completed=done / 2, description=f"ingesting {name}")

        ingest_focus(wh, files, progress=step)
        # Then everything else the sources can read: GPU telemetry and workload records.
        bar.update(task, description="ingesting telemetry and workloads")
        loaded = ingest_auto(wh, [out / "telemetry", out / "workloads"])
        bar.update(task, completed=1.0)
        if not quiet:
            for r in loaded:
                counts = ", ".join(f"{n:,} {table}" for table, n in r.rows.items())
                click.echo(f"Loaded {r.source}: {counts} from {len(r.inputs)} file(s)")
        return summarize(wh)


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
