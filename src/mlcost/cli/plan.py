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
    from mlcost.catalog import hourly_price, offers
    from mlcost.errors import InvalidInput
    from mlcost.plan.spot import plan_spot, rate_from_bucket

    if instance is not None:
        ondemand_price = ondemand_price or hourly_price(instance, region=region)
        spot_price = spot_price or hourly_price(instance, region=region, purchase="spot")
        if interruption is None and rate is None:
            buckets = [
                o.interruption
                for o in offers()
                if o.instance_type == instance
                and (region is None or o.region == region)
                and o.interruption
            ]
            interruption = max(buckets, key=buckets.count) if buckets else None
    if ondemand_price is None or spot_price is None:
        raise InvalidInput("no prices", fix="give --instance, or --ondemand-price and --spot-price")
    if rate is None:
        if interruption is None:
            raise InvalidInput("no interruption rate", fix="give --interruption BUCKET or --rate")
        rate = rate_from_bucket(interruption)
    result = plan_spot(
        work_hours=hours,
        ondemand_usd_per_hour=ondemand_price,
        spot_usd_per_hour=spot_price,
        interruptions_per_hour=rate,
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
