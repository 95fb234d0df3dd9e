"""``mlcost ingest ...`` and ``mlcost sources``: load files, and list what was loaded."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlcost.cli._common import format_option, render_rows, warehouse_from

if TYPE_CHECKING:
    from mlcost.sources._common import LoadResult

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


@ingest.command("focus", epilog="Example: mlcost ingest focus exports/2026-05/ --currency USD")
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
        owners = None if result.already_loaded else _first_bill_owner_key(ctx, wh)
    report(result, named=False)
    if owners:
        click.echo(owners)


def _first_bill_owner_key(ctx: click.Context, wh: Any) -> str | None:
    """On the first FOCUS load: which tag key carries ownership in this bill (a new bill's
    first question), and whether ``[attribution] owner`` agrees."""
    from mlcost.attribution.tags import owner_keys
    from mlcost.cli._common import settings_from
    from mlcost.cli.attribution import owner_key_line

    i = wh.table("ingests")
    if i.filter(i.source == "focus").count().execute() != 1:
        return None
    currency = wh.table("cost_line_items").BillingCurrency.max().execute() or "USD"
    return owner_key_line(owner_keys(wh), settings_from(ctx).attribution.owner, currency)


def _files_or_url(paths: tuple[Path, ...], url: str | None, what: str) -> None:
    """Refuse a call with neither files nor --url before the warehouse is opened (or
    created): nothing would be loaded (issue 22)."""
    if not paths and not url:
        raise click.UsageError(f"nothing to load: give {what} or --url.")


def report(result: LoadResult, *, named: bool = True) -> None:
    """What a load did: rows per table (for bills, what they cover), what it skipped and
    why (as warnings), or that nothing was new."""
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if result.already_loaded and result.focus_versions:
        click.echo(
            f"Already loaded as ingest {result.ingest_id}: {len(result.inputs)} file(s) "
            "unchanged, nothing to do."
        )
        return
    if result.already_loaded:
        click.echo(
            f"{result.source}: already loaded as ingest {result.ingest_id}: "
            f"{len(result.inputs)} input(s) unchanged, nothing to do."
        )
        return
    if result.focus_versions:
        focus_line(result, f"{result.source}: ingest" if named else "Ingest")
        return
    rows = ", ".join(f"{n:,} {table}" for table, n in sorted(result.tables.items())) or "0 rows"
    replaced = f", replaced {result.rows_replaced:,} older rows" if result.rows_replaced else ""
    click.echo(
        f"{result.source}: ingest {result.ingest_id}: {rows} from {len(result.inputs)} "
        f"input(s){replaced}."
    )


def focus_line(result: LoadResult, lead: str) -> None:
    replaced = f", replaced {result.rows_replaced:,} older rows" if result.rows_replaced else ""
    click.echo(
        f"{lead} {result.ingest_id}: {result.rows:,} rows from {len(result.inputs)} file(s) "
        f"(FOCUS {', '.join(result.focus_versions)}), "
        f"{len(result.billing_periods)} billing period(s), "
        f"{len(result.billing_accounts)} account(s), "
        f"EffectiveCost {money(dict(result.effective_cost))}{replaced}."
    )


paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
resolution_option = click.option(
    "--resolution",
    default=60,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds per stored sample; faster samples keep mean/min/max.",
)


@ingest.command(
    "nvidia-smi", epilog="Example: mlcost ingest nvidia-smi logs/i-0abc123.csv logs/i-0def456.csv"
)
@paths_argument
@click.option(
    "--resource",
    help="The host's billed ResourceId or instance id (one log). "
    "Default: each file's name, <resource-id>.csv[.gz].",
)
@resolution_option
@click.pass_context
def ingest_nvidia_smi_cmd(
    ctx: click.Context, paths: tuple[Path, ...], resource: str | None, resolution: int
) -> None:
    """Load nvidia-smi --query-gpu --format=csv logs into gpu_samples."""
    from mlcost.sources.nvidia_smi import ingest_nvidia_smi

    with warehouse_from(ctx) as wh:
        report(ingest_nvidia_smi(wh, paths, resource=resource, resolution=resolution))


@ingest.command("tracker", epilog="Example: mlcost ingest tracker ~/.local/share/mlcost/spool/")
@paths_argument
@resolution_option
@click.pass_context
def ingest_tracker_cmd(ctx: click.Context, paths: tuple[Path, ...], resolution: int) -> None:
    """Load the mlcost tracker's spool (*.jsonl; see docs/tracker-records.md)."""
    from mlcost.sources.tracker import ingest_tracker

    with warehouse_from(ctx) as wh:
        report(ingest_tracker(wh, paths, resolution=resolution))


@ingest.command("slurm", epilog="Example: mlcost ingest slurm sacct.txt --timezone Europe/Berlin")
@paths_argument
@click.option("--timezone", default="UTC", show_default=True, help="The cluster's time zone.")
@click.pass_context
def ingest_slurm_cmd(ctx: click.Context, paths: tuple[Path, ...], timezone: str) -> None:
    """Load sacct --parsable2 output (jobs with AllocTRES gres/gpu) into workloads."""
    from mlcost.sources.slurm import ingest_slurm

    with warehouse_from(ctx) as wh:
        report(ingest_slurm(wh, paths, timezone=timezone))


@ingest.command(
    "opencost", epilog="Example: mlcost ingest opencost --url http://127.0.0.1:9003 --window 7d"
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--url", help="A running OpenCost API, e.g. http://127.0.0.1:9003.")
@click.option("--window", default="7d", show_default=True, help="OpenCost window, with --url.")
@click.option(
    "--aggregate", type=click.Choice(["pod", "container"]), default="pod", show_default=True
)
@click.pass_context
def ingest_opencost_cmd(
    ctx: click.Context, paths: tuple[Path, ...], url: str | None, window: str, aggregate: str
) -> None:
    """Load OpenCost /allocation responses (saved JSON files, or --url) into workloads."""
    from mlcost.sources.opencost import ingest_opencost

    _files_or_url(paths, url, "OpenCost response files")
    with warehouse_from(ctx) as wh:
        report(ingest_opencost(wh, paths, url=url, window=window, aggregate=aggregate))


@ingest.command(
    "served",
    epilog="Example: mlcost ingest served --url http://127.0.0.1:9090 --start 2026-05-01 "
    "--end 2026-05-08 --requests-metric vllm:request_success_total",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--url", help="A Prometheus server with request counters, e.g. http://127.0.0.1:9090."
)
@click.option("--start", type=click.DateTime(), help="Window start (UTC), with --url.")
@click.option("--end", type=click.DateTime(), help="Window end (UTC), with --url.")
@click.option(
    "--requests-metric", help="Counter of requests served, e.g. vllm:request_success_total."
)
@click.option(
    "--tokens-metric", help="Counter of tokens served, e.g. vllm:generation_tokens_total."
)
@click.option("--label", default="endpoint", show_default=True, help="Label naming the endpoint.")
@click.option("--step", default=3600, show_default=True, help="Window length in seconds.")
@click.pass_context
def ingest_served_cmd(
    ctx: click.Context,
    paths: tuple[Path, ...],
    url: str | None,
    start: datetime | None,
    end: datetime | None,
    requests_metric: str | None,
    tokens_metric: str | None,
    label: str,
    step: int,
) -> None:
    """Load inference served volume (requests, tokens per endpoint and window) into workloads."""
    from mlcost.sources.served_volume import ingest_served

    _files_or_url(paths, url, "served-volume CSV files")
    with warehouse_from(ctx) as wh:
        report(
            ingest_served(
                wh,
                paths,
                url=url,
                start=start,
                end=end,
                requests_metric=requests_metric,
                tokens_metric=tokens_metric,
                label=label,
                step=step,
            )
        )


@ingest.command(
    "prometheus",
    epilog="Example: mlcost ingest prometheus --url http://127.0.0.1:9090 --start 2026-05-01 "
    "--end 2026-05-08",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--url", help="A Prometheus server, e.g. http://127.0.0.1:9090.")
@click.option("--start", type=click.DateTime(), help="Window start (UTC), with --url.")
@click.option("--end", type=click.DateTime(), help="Window end (UTC), with --url.")
@click.option("--selector", default="", help='Series selector, e.g. {Hostname=~"gpu-.*"}.')
@resolution_option
@click.pass_context
def ingest_prometheus_cmd(
    ctx: click.Context,
    paths: tuple[Path, ...],
    url: str | None,
    start: Any,
    end: Any,
    selector: str,
    resolution: int,
) -> None:
    """Load DCGM-exporter GPU metrics from Prometheus (--url, a window) or OpenMetrics files."""
    from mlcost.sources.prometheus import ingest_prometheus

    _files_or_url(paths, url, "OpenMetrics files")
    with warehouse_from(ctx) as wh:
        report(
            ingest_prometheus(
                wh, paths, url=url, start=start, end=end, resolution=resolution, selector=selector
            )
        )


@ingest.command("mlflow", epilog="Example: mlcost ingest mlflow --tracking-uri sqlite:///mlflow.db")
@click.option("--tracking-uri", required=True, help="MLflow tracking URI (file:, sqlite:, http:).")
@click.option("--experiment", "experiments", multiple=True, help="Only these experiments.")
@click.pass_context
def ingest_mlflow_cmd(ctx: click.Context, tracking_uri: str, experiments: tuple[str, ...]) -> None:
    """Load MLflow runs (params, metrics, tags, times) into workloads."""
    from mlcost.sources.mlflow import ingest_mlflow

    with warehouse_from(ctx) as wh:
        report(ingest_mlflow(wh, tracking_uri, experiments=experiments))


def _native_command(name: str, module: str, what: str) -> None:
    """``mlcost ingest <provider> FILES``: the four native bill formats share one shape."""

    @ingest.command(
        name,
        help=f"Load {what} as FOCUS rows (one transaction, idempotent).",
        epilog=f"Example: mlcost ingest {name} exports/",
    )
    @paths_argument
    @click.pass_context
    def command(ctx: click.Context, paths: tuple[Path, ...]) -> None:
        import importlib

        with warehouse_from(ctx) as wh:
            report(importlib.import_module(module).ingest(wh, paths))


for _name, _module, _what in (
    ("aws-cur", "mlcost.sources.aws_cur", "AWS Cost and Usage Reports (legacy CSV, CUR 2.0)"),
    ("azure", "mlcost.sources.azure", "Azure cost details exports (EA, MCA)"),
    ("gcp", "mlcost.sources.gcp", "GCP billing exports (BigQuery schema; CSV or JSON lines)"),
    ("oci", "mlcost.sources.oci", "OCI cost reports"),
):
    _native_command(_name, _module, _what)


@ingest.command("auto", epilog="Example: mlcost ingest auto billing/ telemetry/ workloads/")
@paths_argument
@click.pass_context
def ingest_auto_cmd(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Load every file under PATHS with the source that recognizes its content."""
    from mlcost.sources import ingest_auto

    with warehouse_from(ctx) as wh:
        for result in ingest_auto(wh, paths):
            report(result)


@click.command(epilog="Example: mlcost sources --unmatched")
@click.option("--available", is_flag=True, help="List the input formats mlcost can read.")
@click.option(
    "--unmatched",
    is_flag=True,
    help="Telemetry hosts and workloads that resolve to no billed resource.",
)
@format_option
@click.pass_context
def sources(ctx: click.Context, available: bool, unmatched: bool, fmt: str) -> None:
    """What has been loaded into the warehouse (or, with --available, what can be)."""
    if unmatched:
        from mlcost.sources.linking import link_summary
        from mlcost.sources.linking import unmatched as unmatched_rows

        with warehouse_from(ctx) as wh:
            summary = link_summary(wh)
            rows = unmatched_rows(wh)
        if fmt == "table":
            for s in summary:
                click.echo(
                    f"{s['table']}: {s['matched_names']} of {s['names']} names matched a billed "
                    f"resource; {s['unmatched_rows']:,} row(s) unmatched."
                )
        render_rows(rows, ["table", "name", "rows"], fmt, title="Not linked to a billed resource")
        return
    if available:
        from mlcost.sources import REGISTRY

        rows = [
            {"source": e.name, "reads": e.description, "writes": ", ".join(e.writes)}
            for e in REGISTRY.values()
        ]
        render_rows(rows, ["source", "reads", "writes"], fmt, title="Sources")
        return
    from mlcost.sources.ingest_records import ingest_history

    with warehouse_from(ctx, read_only=True) as wh:  # a listing: never creates the file
        rows = ingest_history(wh)
    if fmt == "table":  # to the minute, as people read it
        rows = [r | {"loaded_at": r["loaded_at"][:16].replace("T", " ")} for r in rows]
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
    render_rows(
        rows,
        columns,
        fmt,
        title="Loaded into the warehouse",
        list_columns={"files": "file", "periods": "period"},
        wide_columns=["rows_replaced"],
    )
