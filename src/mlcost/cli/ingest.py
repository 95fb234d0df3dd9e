"""``mlcost ingest ...`` and ``mlcost sources``: load files, and list what was loaded."""

from __future__ import annotations

from pathlib import Path

import click

from mlcost.cli._common import format_option, render_rows, warehouse_from

# Inputs larger than this get a progress bar (smaller ones finish before it would draw).
PROGRESS_MIN_BYTES = 8 << 20


def money(amounts: dict[str, object]) -> str:
    """'1,234.50 USD' (one amount per currency, never a bare number)."""
    if not amounts:
        return "0.00"
    return ", ".join(f"{float(v):,.2f} {c}" for c, v in sorted(amounts.items(), key=str))  # type: ignore[arg-type]


@click.group()
def ingest() -> None:
    """Load billing exports and telemetry into the warehouse."""


@ingest.command("focus")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Load files that lack FOCUS mandatory columns; absent columns stay empty.",
)
@click.option("--currency", help="BillingCurrency for rows (or files) that have none, e.g. USD.")
@click.pass_context
def ingest_focus_cmd(
    ctx: click.Context, paths: tuple[Path, ...], allow_missing: bool, currency: str | None
) -> None:
    """Load FOCUS 1.0–1.4 exports (CSV, CSV.gz, Parquet; files or folders) in one transaction.

    Loading the same files again changes nothing; a newer export of a billing account's
    billing period replaces the older rows of that account and period.
    """
    from mlcost.sources.focus import expand_paths, ingest_focus

    total = sum(p.stat().st_size for p in expand_paths(paths))
    with warehouse_from(ctx) as wh:
        if total >= PROGRESS_MIN_BYTES:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn

            columns = (
                "[progress.description]{task.description}",
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task("Loading", total=1.0)

                def show(fraction: float, name: str) -> None:
                    bar.update(task, completed=fraction, description=f"Loading {name}")

                result = ingest_focus(
                    wh, paths, allow_missing=allow_missing, currency=currency, progress=show
                )
        else:
            result = ingest_focus(wh, paths, allow_missing=allow_missing, currency=currency)
    n = len(result.files)
    if result.already_loaded:
        click.echo(
            f"Already loaded as ingest {result.ingest_id}: {n} file(s) unchanged, nothing to do."
        )
        return
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    replaced = f", replaced {result.rows_replaced:,} older rows" if result.rows_replaced else ""
    click.echo(
        f"Ingest {result.ingest_id}: {result.rows:,} rows from {n} file(s) "
        f"(FOCUS {', '.join(result.focus_versions)}), "
        f"{len(result.billing_periods)} billing period(s), "
        f"{len(result.billing_accounts)} account(s), "
        f"EffectiveCost {money(dict(result.effective_cost))}{replaced}."
    )


@click.command()
@click.option("--available", is_flag=True, help="List the input formats mlcost can read.")
@format_option
@click.pass_context
def sources(ctx: click.Context, available: bool, fmt: str) -> None:
    """What has been loaded into the warehouse (or, with --available, what can be)."""
    if available:
        from mlcost.sources import REGISTRY

        rows = [{"source": e.name, "reads": e.description} for e in REGISTRY.values()]
        render_rows(rows, ["source", "reads"], fmt, title="Sources")
        return
    from mlcost.sources.history import ingest_history

    with warehouse_from(ctx) as wh:
        rows = ingest_history(wh)
    columns = [
        "ingest_id",
        "loaded_at",
        "source",
        "focus_version",
        "files",
        "periods",
        "rows",
        "live_rows",
        "rows_replaced",
    ]
    render_rows(rows, columns, fmt, title="Loaded into the warehouse")
