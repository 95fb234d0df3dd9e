"""``mlcost plan``: memory, cheapest GPU, spot economics and TCO (thin: parse, call, render)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mlcost.cli._common import format_option, render_rows


def _emit(
    obj: dict[str, Any],
    rows: list[dict[str, Any]],
    columns: list[str],
    fmt: str,
    title: str,
    money: tuple[str, ...] = (),
) -> None:
    if fmt == "json":
        click.echo(json.dumps(obj, indent=2))
    else:
        render_rows(rows, columns, fmt, title=title, money_columns=money)


@click.group()
def plan() -> None:
    """Plan before spending: memory, cheapest GPU, spot or not, buy or rent."""


_model_options = [
    click.option("--model", default=None, help="Preset name, e.g. llama-3-8b, bert-large-uncased."),
    click.option(
        "--config",
        type=click.Path(path_type=Path),
        default=None,
        help="A Hugging Face config.json.",
    ),
    click.option("--params", type=float, default=None, help="Parameter count, e.g. 7e9."),
    click.option(
        "--mode",
        type=click.Choice(["train", "lora", "qlora", "infer"]),
        default="train",
        show_default=True,
    ),
    click.option(
        "--precision",
        default="amp-bf16",
        show_default=True,
        help="fp32|amp-fp16|amp-bf16|bf16|fp8|int8|int4",
    ),
    click.option(
        "--optimizer", default="adamw", show_default=True, help="adamw|adamw-8bit|sgd|adafactor"
    ),
    click.option("--batch", type=int, default=1, show_default=True),
    click.option("--seq", type=int, default=2048, show_default=True),
    click.option("--grad-checkpointing", is_flag=True),
    click.option("--gpus", type=int, default=1, show_default=True),
    click.option("--sharding", default="ddp", show_default=True, help="ddp|zero1|zero2|zero3|fsdp"),
    click.option("--tp", type=int, default=1, show_default=True),
    click.option("--kv-tokens", type=int, default=None, help="Context held per sequence (infer)."),
]


def model_options(f: Any) -> Any:
    for option in reversed(_model_options):
        f = option(f)
    return f


def _estimate(kw: dict[str, Any]) -> Any:
    from mlcost.plan.memory import estimate_memory

    params = kw.pop("params")
    return estimate_memory(
        kw.pop("model"),
        config=kw.pop("config"),
        params=int(params) if params is not None else None,
        **kw,
    )


@plan.command()
@model_options
@format_option
def memory(fmt: str, **kw: Any) -> None:
    """Peak GPU memory per device, with its breakdown."""
    est = _estimate(kw)
    rows = [{"component": k, "gib": round(v / 2**30, 3)} for k, v in est.breakdown.items()]
    rows.append({"component": "total per GPU", "gib": round(est.per_gpu_gib, 3)})
    _emit(
        est.to_dict(), rows, ["component", "gib"], fmt, f"{est.model}: {est.mode}, {est.precision}"
    )


@plan.command()
@model_options
@click.option("--memory-gib", type=float, default=None, help="Memory need per GPU instead.")
@click.option(
    "--purchase", multiple=True, default=["ondemand", "spot", "reserved_1y"], show_default=True
)
@click.option("--cloud", default=None)
@click.option("--headroom", type=float, default=0.05, show_default=True)
@click.option("--tokens", type=float, default=None, help="Training tokens, for cost-to-train.")
@click.option("--flops", type=float, default=None, help="Training FLOPs (instead of --tokens).")
@click.option("--mfu", type=float, default=0.40, show_default=True)
@click.option("--limit", type=int, default=5, show_default=True)
@format_option
def gpu(
    fmt: str,
    memory_gib: float | None,
    purchase: tuple[str, ...],
    cloud: str | None,
    headroom: float,
    tokens: float | None,
    flops: float | None,
    mfu: float,
    limit: int,
    **kw: Any,
) -> None:
    """Cheapest instances that fit, per purchase option, with cost-to-train."""
    from mlcost.plan.gpu import cheapest_fit

    gpus = kw["gpus"]
    if memory_gib is not None:
        need, params = int(memory_gib * 2**30), kw.get("params")
    else:
        est = _estimate(dict(kw))
        need, params = est.per_gpu_bytes, est.params
    train_flops = flops or (6 * params * tokens if tokens and params else None)
    result = cheapest_fit(
        need,
        gpus=gpus,
        purchases=tuple(purchase),
        headroom=headroom,
        cloud=cloud,
        limit=limit,
        train_flops=train_flops,
        mfu=mfu,
    )
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
        f"Cheapest fits for {result.need_per_gpu_gib} GiB/GPU x {gpus} (USD)",
        ("usd_per_hour", "train_cost"),
    )
    if fmt == "table":
        for note in result.notes:
            click.echo(note)


@plan.command()
@click.option("--hours", type=float, required=True, help="Hours of work on on-demand.")
@click.option("--instance", default=None, help="Catalog instance type (prices, AWS bucket).")
@click.option("--region", default=None)
@click.option("--ondemand-price", type=float, default=None)
@click.option("--spot-price", type=float, default=None)
@click.option("--interruption", default=None, help="AWS bucket, e.g. '5-10%'.")
@click.option("--rate", type=float, default=None, help="Interruptions per hour (overrides).")
@click.option("--checkpoint-minutes", type=float, default=5.0, show_default=True)
@click.option("--restart-minutes", type=float, default=10.0, show_default=True)
@click.option("--capacity-wait-minutes", type=float, default=0.0, show_default=True)
@click.option(
    "--pools",
    type=int,
    default=1,
    show_default=True,
    help="Instance types / zones diversified over.",
)
@click.option("--deadline-hours", type=float, default=None)
@format_option
def spot(
    fmt: str,
    hours: float,
    instance: str | None,
    region: str | None,
    ondemand_price: float | None,
    spot_price: float | None,
    interruption: str | None,
    rate: float | None,
    checkpoint_minutes: float,
    restart_minutes: float,
    capacity_wait_minutes: float,
    pools: int,
    deadline_hours: float | None,
) -> None:
    """Spot vs on-demand: expected cost and time, optimal checkpoint interval (Young/Daly)."""
    from mlcost.plan.spot import plan_spot_for

    result = plan_spot_for(
        hours,
        instance=instance,
        region=region,
        ondemand_price=ondemand_price,
        spot_price=spot_price,
        interruption=interruption,
        rate=rate,
        checkpoint_minutes=checkpoint_minutes,
        restart_minutes=restart_minutes,
        capacity_wait_minutes=capacity_wait_minutes,
        pools=pools,
        deadline_hours=deadline_hours,
    )
    d = result.to_dict()
    _emit(
        d,
        [{"field": k, "value": v} for k, v in d.items()],
        ["field", "value"],
        fmt,
        "Spot vs on-demand",
    )


@plan.command()
@click.option("--gpu-hours", type=float, required=True, help="GPU-hours used per year.")
@click.option("--gpus", type=int, default=1, show_default=True, help="Capacity (GPUs) to own.")
@click.option("--managed-price", type=float, required=True, help="Managed USD per GPU-hour.")
@click.option("--ondemand-price", type=float, required=True)
@click.option("--reserved-price", type=float, default=None)
@click.option("--spot-price", type=float, default=None)
@click.option("--months", type=int, default=12, show_default=True)
@click.option(
    "--engineer-cost",
    type=float,
    default=200_000.0,
    show_default=True,
    help="USD per engineer-year.",
)
@click.option("--self-hosted-fte", type=float, default=0.25, show_default=True)
@click.option("--managed-fte", type=float, default=0.05, show_default=True)
@format_option
def tco(
    fmt: str,
    gpu_hours: float,
    gpus: int,
    managed_price: float,
    ondemand_price: float,
    reserved_price: float | None,
    spot_price: float | None,
    months: int,
    engineer_cost: float,
    self_hosted_fte: float,
    managed_fte: float,
) -> None:
    """Managed vs self-hosted on-demand / reserved / spot over a horizon, with break-even."""
    from mlcost.plan.tco import plan_tco

    result = plan_tco(
        gpu_hours_per_year=gpu_hours,
        capacity_gpus=gpus,
        managed_usd_per_hour=managed_price,
        ondemand_usd_per_hour=ondemand_price,
        reserved_usd_per_hour=reserved_price,
        spot_usd_per_hour=spot_price,
        horizon_months=months,
        engineer_usd_per_year=engineer_cost,
        self_hosted_fte=self_hosted_fte,
        managed_fte=managed_fte,
    )
    rows = [o.__dict__ for o in result.options]
    _emit(
        result.to_dict(),
        rows,
        ["name", "compute", "engineering", "overhead", "total", "currency"],
        fmt,
        f"TCO over {months} months (USD)",
        ("compute", "engineering", "overhead", "total"),
    )
    if fmt == "table":
        click.echo(
            f"Cheapest: {result.cheapest}. Reserved self-hosting beats managed above "
            f"{result.break_even_utilization:.0%} utilization."
            if result.break_even_utilization is not None
            else f"Cheapest: {result.cheapest}."
        )


@plan.command()
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
        ("usd_per_hour", "cost_per_1000"),
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


@plan.command()
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
    _emit(obj, rows, cols, fmt, f"Batch of {items:,} items (USD)", ("cost",))
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
