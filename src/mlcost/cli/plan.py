"""``mlcost plan``: memory, cheapest GPU, spot economics and TCO (thin: parse, call, render)."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mlcost.cli._common import format_option, render_rows
from mlcost.plan.requests import (
    GpuRequest,
    MemoryRequest,
    SpotRequest,
    TcoRequest,
    optional_base,
    request_fields,
)


def _emit(
    obj: dict[str, Any],
    rows: list[dict[str, Any]],
    columns: list[str],
    fmt: str,
    title: str,
    money: tuple[str, ...] = (),
    *,
    unit: tuple[str, ...] = (),
    wide: tuple[str, ...] = (),
) -> None:
    if fmt == "json":
        click.echo(json.dumps(obj, indent=2))
    else:
        render_rows(
            rows,
            columns,
            fmt,
            title=title,
            money_columns=money,
            unit_columns=unit,
            wide_columns=wide,
        )


@click.group()
def plan() -> None:
    """Plan before spending: memory, cheapest GPU, spot or not, buy or rent."""


def _click_option(f: Any, hint: Any) -> Any:
    """A click option from a request field (its metadata says help, choices, flag name)."""
    meta = f.metadata
    name = "--" + (meta["flag"] or f.name.replace("_", "-"))
    base = optional_base(hint)
    if base is bool:
        return click.option(name, f.name, is_flag=True, help=meta["help"])
    required = f.default is dataclasses.MISSING
    default = None if required else f.default
    kind: Any = (
        click.Choice(meta["choices"])
        if meta["choices"]
        else click.Path(path_type=Path)
        if base is Path
        else (str if base is tuple else base)
    )
    # A required option gets no default at all: click 8.3+ takes an explicit default=None as
    # a value, so the missing option reached the planner as None (a TypeError; issue 22).
    defaults: dict[str, Any] = {} if required else {"default": default}
    return click.option(
        name,
        f.name,
        type=kind,
        **defaults,
        required=required,
        multiple=base is tuple,
        show_default=default is not None,
        help=meta["help"],
    )


def request_options(cls: type, exclude: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    """Click options for every field of a planner request (``mlcost.plan.requests``)."""

    def wrap(fn: Any) -> Any:
        hints = typing.get_type_hints(cls)
        for f in reversed(request_fields(cls)):
            if f.name not in exclude:
                fn = _click_option(f, hints[f.name])(fn)
        return fn

    return wrap


def _split(cls: type, kw: dict[str, Any]) -> dict[str, Any]:
    """Pop the keyword arguments that are ``cls``'s fields."""
    return {f.name: kw.pop(f.name) for f in request_fields(cls) if f.name in kw}


@plan.command(epilog="Example: mlcost plan memory --model llama-3-8b --mode lora --precision bf16")
@request_options(MemoryRequest)
@click.option("--list-models", is_flag=True, help="List the preset models and exit.")
@click.option(
    "--exact",
    is_flag=True,
    help="Trace one training step of the model built from --config with fake tensors "
    "(needs PyTorch and transformers).",
)
@format_option
def memory(fmt: str, list_models: bool, exact: bool, **kw: Any) -> None:
    """Peak GPU memory per device, with its breakdown."""
    from mlcost.plan import PRESETS

    if list_models:
        models = [
            {
                "model": m.name,
                "params": m.params,
                "kind": m.kind,
                "layers": m.layers,
                "hidden": m.hidden,
                "vocab": m.vocab,
            }
            for m in sorted(PRESETS.values(), key=lambda m: m.params)
        ]
        cols = ["model", "params", "kind", "layers", "hidden", "vocab"]
        _emit({"models": models}, models, cols, fmt, "Preset models")
        return
    req = MemoryRequest(**kw)
    if exact:
        from mlcost.plan.exact import trace_request

        est = trace_request(req)
    else:
        est = req.run()
    rows = [{"component": k, "gib": round(v / 2**30, 3)} for k, v in est.breakdown.items()]
    rows.append({"component": "total per GPU", "gib": round(est.per_gpu_gib, 3)})
    _emit(
        est.to_dict(), rows, ["component", "gib"], fmt, f"{est.model}: {est.mode}, {est.precision}"
    )
    if fmt == "table":
        for note in est.notes:
            click.echo(note)


@plan.command(epilog="Example: mlcost plan gpu --model llama-3-8b --tokens 2e10 --purchase spot")
@request_options(MemoryRequest)
@request_options(GpuRequest, exclude=("job",))
@format_option
def gpu(fmt: str, **kw: Any) -> None:
    """Cheapest instances that fit, per purchase option, with cost-to-train; a CPU instance
    first when the job is too small for a GPU."""
    job = MemoryRequest(**_split(MemoryRequest, kw))
    result = GpuRequest(job=job, **kw).run()
    rows = [f.__dict__ for f in result.fits]
    cols = [
        "purchase",
        "cloud",
        "instance_type",
        "region",
        "gpu",
        "gpu_count",
        "nodes",
        "usd_per_hour",
        "headroom_gib",
        "train_hours",
        "train_cost",
    ]
    _emit(
        result.to_dict(),
        rows,
        cols,
        fmt,
        f"Cheapest fits for {result.need_per_gpu_gib} GiB/GPU x {result.gpus} (USD)",
        ("usd_per_hour", "train_cost"),
        wide=("nodes", "headroom_gib"),
    )
    if fmt == "table":
        for note in result.notes:
            click.echo(note)


@plan.command(epilog="Example: mlcost plan spot --instance p4d.24xlarge --hours 48")
@request_options(SpotRequest)
@format_option
def spot(fmt: str, **kw: Any) -> None:
    """Spot vs on-demand: expected cost and time, optimal checkpoint interval (Young/Daly)."""
    d = SpotRequest(**kw).run().to_dict()
    _emit(
        d,
        [{"field": k, "value": v} for k, v in d.items()],
        ["field", "value"],
        fmt,
        "Spot vs on-demand",
    )


@plan.command(
    epilog="Example: mlcost plan tco --gpu-hours 20000 --managed-price 4 --ondemand-price 3"
)
@request_options(TcoRequest)
@format_option
def tco(fmt: str, **kw: Any) -> None:
    """Managed vs self-hosted on-demand / reserved / spot over a horizon, with break-even."""
    result = TcoRequest(**kw).run()
    rows = [o.__dict__ for o in result.options]
    _emit(
        result.to_dict(),
        rows,
        ["name", "compute", "engineering", "overhead", "total", "currency"],
        fmt,
        f"TCO over {result.horizon_months} months (USD)",
        ("compute", "engineering", "overhead", "total"),
    )
    if fmt == "table":
        click.echo(
            f"Cheapest: {result.cheapest}. Reserved self-hosting beats managed above "
            f"{result.break_even_utilization:.0%} utilization."
            if result.break_even_utilization is not None
            else f"Cheapest: {result.cheapest}."
        )


@plan.command(epilog="Example: mlcost plan pareto variants.csv --quality-floor 0.9")
@click.argument("variants_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quality-floor", type=float, default=None, help="Lowest acceptable quality.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None)
@format_option
def pareto(
    fmt: str, variants_csv: Path, quality_floor: float | None, plot_path: Path | None
) -> None:
    """Cost per 1,000 predictions of each model variant, the frontier, the cheapest above a floor.

    VARIANTS_CSV: variant,quality,items_per_second,instance[,region,purchase,usd_per_hour]
    """
    from mlcost.plan.pareto import pareto as run_pareto
    from mlcost.plan.pareto import plot_pareto, read_variants

    result = run_pareto(read_variants(variants_csv), quality_floor=quality_floor)
    rows = [v.__dict__ for v in sorted(result.variants, key=lambda v: v.cost_per_1000)]
    cols = [
        "variant",
        "quality",
        "items_per_second",
        "instance",
        "usd_per_hour",
        "cost_per_1000",
        "on_frontier",
    ]
    _emit(
        result.to_dict(),
        rows,
        cols,
        fmt,
        "Cost per 1,000 predictions (USD)",
        ("usd_per_hour",),
        unit=("cost_per_1000",),
    )
    if plot_path is not None:
        plot_pareto(result, plot_path)
    if fmt == "table":
        click.echo(f"Frontier (cheapest first): {', '.join(result.frontier)}")
        if quality_floor is not None:
            click.echo(
                f"Cheapest meeting quality {quality_floor}: {result.cheapest_meeting_floor}"
                if result.cheapest_meeting_floor
                else f"No variant reaches quality {quality_floor}."
            )


def _parse_curve(text: str) -> list[tuple[int, float]]:
    from mlcost.errors import InvalidInput

    try:
        return [(int(w), float(t)) for w, t in (p.split(":") for p in text.split(","))]
    except ValueError as exc:
        raise InvalidInput(
            f"--curve {text!r} is not WORKERS:ITEMS_PER_SECOND,...", fix="e.g. 1:100,2:190,4:330"
        ) from exc


@plan.command(
    epilog="Example: mlcost plan batch --items 1000000 --curve 1:100,2:190,4:330 "
    "--usd-per-worker-hour 1.2"
)
@click.option("--items", type=int, required=True, help="Items in the batch job.")
@click.option(
    "--curve",
    required=True,
    help="Measured throughput: WORKERS:ITEMS_PER_SECOND,... e.g. 1:100,2:190",
)
@click.option("--usd-per-worker-hour", type=float, required=True)
@click.option("--deadline-hours", type=float, default=None, help="Hours from the earliest start.")
@click.option(
    "--min-marginal",
    type=float,
    default=0.5,
    show_default=True,
    help="An added worker must add this share of one worker's throughput.",
)
@click.option(
    "--prices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Price history CSV time,usd_per_hour (per worker) for the window.",
)
@click.option("--earliest", default=None, help="Earliest start, ISO 8601 (default: first price).")
@format_option
def batch(
    fmt: str,
    items: int,
    curve: str,
    usd_per_worker_hour: float,
    deadline_hours: float | None,
    min_marginal: float,
    prices: Path | None,
    earliest: str | None,
) -> None:
    """Workers past which adding more stops paying, and the cheapest start before a deadline."""
    from datetime import datetime, timedelta

    from mlcost.plan.batch import cheapest_start, plan_workers, read_prices

    result = plan_workers(
        items,
        _parse_curve(curve),
        usd_per_worker_hour=usd_per_worker_hour,
        deadline_hours=deadline_hours,
        min_marginal=min_marginal,
    )
    obj = result.to_dict()
    window = None
    if prices is not None:
        schedule = read_prices(prices)
        start = datetime.fromisoformat(earliest) if earliest else schedule[0][0]
        run = next(o for o in result.options if o.workers == result.recommended_workers)
        end = start + timedelta(hours=deadline_hours if deadline_hours else 24 * 7)
        window = cheapest_start(
            schedule, hours=run.hours, earliest=start, deadline=end, workers=run.workers
        )
        obj["window"] = window.to_dict()
    rows = [o.__dict__ for o in result.options]
    cols = [
        "workers",
        "items_per_second",
        "marginal_items_per_second",
        "hours",
        "cost",
        "cost_per_1000",
    ]
    _emit(
        obj, rows, cols, fmt, f"Batch of {items:,} items (USD)", ("cost",), unit=("cost_per_1000",)
    )
    if fmt == "table":
        click.echo(
            f"Adding workers stops paying past {result.saturation_workers}. "
            f"Run {result.recommended_workers} ({result.reason})."
        )
        if window is not None:
            click.echo(
                f"Cheapest start {window.start.isoformat()}: {window.cost:,.2f} USD "
                f"({window.saving:,.2f} USD less than starting at the earliest)."
            )
