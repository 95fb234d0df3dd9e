"""``mlcost ingest ...`` and ``mlcost sources``: load files, and list what was loaded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mlcost.cli._common import format_option, render_rows, warehouse_from

if TYPE_CHECKING:
    from mlcost.sources._common import LoadResult

F = TypeVar("F", bound=Callable[..., Any])

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


# Bills may be files, folders or URLs (s3://bucket/prefix/, az://container/path): kept as text
# here, since click.Path would fold the URL's "//".
bill_paths_argument = click.argument("paths", nargs=-1, required=True)


def prometheus_window(url_help: str) -> Callable[[F], F]:
    """``--url`` (a Prometheus server) with the ``--start`` / ``--end`` of its window."""

    def options(command: F) -> F:
        command = click.option(
            "--end", type=click.DateTime(), help="Window end (UTC), with --url."
        )(command)
        command = click.option(
            "--start", type=click.DateTime(), help="Window start (UTC), with --url."
        )(command)
        return click.option("--url", help=url_help)(command)

    return options


@ingest.command("focus", epilog="Example: mlcost ingest focus exports/2026-05/ --currency USD")
@bill_paths_argument
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Load files that lack FOCUS mandatory columns; absent columns stay empty.",
)
@click.option("--currency", help="BillingCurrency for rows (or files) that have none, e.g. USD.")
@click.pass_context
def ingest_focus_cmd(
    ctx: click.Context, paths: tuple[str, ...], allow_missing: bool, currency: str | None
) -> None:
    """Load FOCUS 1.0–1.4 exports (CSV, CSV.gz, Parquet; files or folders) in one transaction.

    Loading the same files again changes nothing; a newer export of a billing account's
    billing period replaces the older rows of that account and period. PATHS may also be
    s3://BUCKET/PREFIX/ or az://CONTAINER/PATH: each new, complete delivery there is loaded
    once (docs/remote.md).
    """
    from mlcost.sources.focus import expand_paths, ingest_focus

    urls, files = _split_urls(paths)
    if urls:
        options = {"allow_missing": allow_missing, "currency": currency}
        with warehouse_from(ctx) as wh:
            _ingest_urls(wh, urls, "focus", {k: v for k, v in options.items() if v})
        if not files:
            return
    total = sum(p.stat().st_size for p in expand_paths(files))
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
                    wh, files, allow_missing=allow_missing, currency=currency, progress=show
                )
        else:
            result = ingest_focus(wh, files, allow_missing=allow_missing, currency=currency)
        owners = None if result.already_loaded else _first_bill_owner_key(ctx, wh)
    report(result, named=False)
    if owners:
        click.echo(owners)


def _split_urls(paths: tuple[str, ...]) -> tuple[list[str], tuple[Path, ...]]:
    """Bill URLs (checked before any warehouse is opened) and local paths, in the order given."""
    from mlcost.sources.remote import is_remote, parse_url

    urls = [p for p in paths if is_remote(p)]
    for url in urls:
        parse_url(url)
    return urls, tuple(Path(p) for p in paths if not is_remote(p))


def _ingest_urls(wh: Any, urls: list[str], kind: str, options: dict[str, Any]) -> None:
    """Fetch and load each URL's new deliveries, with a progress bar on stderr while files
    stream (shown on a terminal only)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    from mlcost.sources.remote import ingest_remote

    for url in urls:
        columns = ("[progress.description]{task.description}", BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("Fetching", total=1.0)

            def show(fraction: float, name: str, task: Any = task) -> None:
                bar.update(task, completed=fraction, description=f"Fetching {name}")

            result = ingest_remote(wh, url, kind, progress=show, **options)
        remote_report(result)


def remote_report(result: Any) -> None:
    """What a fetch did: a line per delivery loaded, what was skipped, what is unfinished."""
    for line in result.incomplete:
        click.echo(f"Warning: {line}", err=True)
    for load in result.loads:
        if load.already_loaded:
            click.echo(f"{result.url}: delivery already loaded as ingest {load.ingest_id}.")
        elif load.focus_versions:
            focus_line(load, f"{result.url}: ingest")
        else:
            report(load)
    skipped = []
    if result.unchanged:
        skipped.append(f"{result.unchanged} delivery(ies) unchanged, not downloaded")
    if result.superseded:
        skipped.append(f"{result.superseded} older delivery(ies) superseded")
    fetched = f"fetched {result.downloaded_bytes:,} bytes; " if result.downloaded_bytes else ""
    if not result.loads:
        click.echo(
            f"{result.url}: nothing new to load ({fetched}{'; '.join(skipped) or 'no deliveries'})."
        )
    elif skipped or fetched:
        click.echo(f"{result.url}: {fetched}{'; '.join(skipped)}".rstrip("; ") + ".")


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
@prometheus_window("A Prometheus server with request counters, e.g. http://127.0.0.1:9090.")
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
    "serving-metrics",
    epilog="Example: mlcost ingest serving-metrics telemetry/vllm/llm-chat-8gpu.om.txt",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--engine",
    type=click.Choice(["vllm", "tgi", "triton"]),
    default="vllm",
    show_default=True,
    help="The serving engine whose counters to read.",
)
@prometheus_window("A Prometheus server scraping the engine, e.g. http://127.0.0.1:9090.")
@click.option("--selector", default="", help='Series selector, e.g. {job="vllm"}.')
@click.option("--endpoint", help="The endpoint of every series (instead of a label).")
@click.option(
    "--endpoint-label",
    default="instance",
    show_default=True,
    help="Label naming the endpoint (instance: its host, port dropped).",
)
@click.option("--model", help="The served model, for engines that label none (TGI).")
@click.pass_context
def ingest_serving_metrics_cmd(
    ctx: click.Context,
    paths: tuple[Path, ...],
    engine: str,
    url: str | None,
    start: datetime | None,
    end: datetime | None,
    selector: str,
    endpoint: str | None,
    endpoint_label: str,
    model: str | None,
) -> None:
    """Load vLLM / TGI / Triton token and request counters as hourly served_tokens rows."""
    from mlcost.sources.serving_metrics import ingest_serving_metrics

    _files_or_url(paths, url, "OpenMetrics files")
    with warehouse_from(ctx) as wh:
        report(
            ingest_serving_metrics(
                wh,
                paths,
                engine=engine,
                url=url,
                start=start,
                end=end,
                selector=selector,
                endpoint=endpoint,
                endpoint_label=endpoint_label,
                model=model,
            )
        )


@ingest.command("litellm", epilog="Example: mlcost ingest litellm spend-logs.csv --tenant team_id")
@paths_argument
@click.option(
    "--tenant",
    type=click.Choice(["team_id", "user", "end_user", "api_key"]),
    default="team_id",
    show_default=True,
    help="The spend-log column naming the tenant.",
)
@click.option("--endpoint", help="The endpoint of every request (instead of api_base's host).")
@click.pass_context
def ingest_litellm_cmd(
    ctx: click.Context, paths: tuple[Path, ...], tenant: str, endpoint: str | None
) -> None:
    """Load LiteLLM spend logs (CSV or JSON) as hourly per-tenant served_tokens rows."""
    from mlcost.sources.litellm import ingest_litellm

    with warehouse_from(ctx) as wh:
        report(ingest_litellm(wh, paths, tenant_field=tenant, endpoint=endpoint))


@ingest.command(
    "prometheus",
    epilog="Example: mlcost ingest prometheus --url http://127.0.0.1:9090 --start 2026-05-01 "
    "--end 2026-05-08",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@prometheus_window("A Prometheus server, e.g. http://127.0.0.1:9090.")
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
        help=f"Load {what} as FOCUS rows (one transaction, idempotent). PATHS may be files, "
        "folders, s3://BUCKET/PREFIX/ or az://CONTAINER/PATH (docs/remote.md).",
        epilog=f"Example: mlcost ingest {name} exports/",
    )
    @bill_paths_argument
    @click.pass_context
    def command(ctx: click.Context, paths: tuple[str, ...]) -> None:
        import importlib

        urls, files = _split_urls(paths)
        with warehouse_from(ctx) as wh:
            if urls:
                _ingest_urls(wh, urls, name, {})
            if files:
                report(importlib.import_module(module).ingest(wh, files))


for _name, _module, _what in (
    ("aws-cur", "mlcost.sources.aws_cur", "AWS Cost and Usage Reports (legacy CSV, CUR 2.0)"),
    ("azure", "mlcost.sources.azure", "Azure cost details exports (EA, MCA)"),
    ("gcp", "mlcost.sources.gcp", "GCP billing exports (BigQuery schema; CSV or JSON lines)"),
    ("oci", "mlcost.sources.oci", "OCI cost reports"),
    ("openai", "mlcost.sources.openai", "OpenAI costs + completions usage exports (JSON pages)"),
    ("anthropic", "mlcost.sources.anthropic", "Anthropic cost + messages usage reports (JSON)"),
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
@click.option(
    "--fresh",
    is_flag=True,
    help="How fresh each bill URL is: when its newest delivery was written, what it covers.",
)
@format_option
@click.pass_context
def sources(ctx: click.Context, available: bool, unmatched: bool, fresh: bool, fmt: str) -> None:
    """What has been loaded into the warehouse (or, with --available, what can be)."""
    if fresh:
        from mlcost.sources.remote import all_freshness

        with warehouse_from(ctx, read_only=True) as wh:
            found = all_freshness(wh)
        if fmt == "table":
            for f in found:
                click.echo(f.line())
            if not found:
                click.echo("No bill has been loaded from a URL (s3://, az://) yet.")
            return
        rows = [
            {
                "url": f.url,
                "provider": f.provider,
                "delivered_at": f.delivered_at.isoformat(),
                "covers_through": f.covers_through.isoformat() if f.covers_through else None,
            }
            for f in found
        ]
        render_rows(rows, ["url", "provider", "delivered_at", "covers_through"], fmt)
        return
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
        rows = [r | {"loaded_at": str(r["loaded_at"] or "")[:16].replace("T", " ")} for r in rows]
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
