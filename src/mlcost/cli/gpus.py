"""``mlcost gpus``: list GPU offers across clouds, cheapest region per offer."""

from __future__ import annotations

import click

from mlcost.cli._common import format_option, render_rows

COLUMNS = [
    "gpu",
    "gpu_count",
    "gpu_memory_gib",
    "cloud",
    "instance_type",
    "usd_per_hour",
    "usd_per_gpu_hour",
    "cheapest_region",
    "regions",
    "interruption",
    "price_date",
]


@click.command()
@click.option("--gpu", default=None, help="GPU model, e.g. H100, A100-80GB, L4.")
@click.option("--cloud", default=None, help="Only this cloud, e.g. aws, gcp, azure, lambda.")
@click.option("--instance", "instance_type", default=None, help="Only this instance type.")
@click.option("--min-memory", type=float, default=None, help="Minimum GiB per GPU.")
@click.option("--spot", is_flag=True, help="Spot prices instead of on-demand.")
@click.option("--reserved", is_flag=True, help="1-year reserved prices (AWS) instead.")
@click.option(
    "--sort",
    type=click.Choice(["price", "gpu-price", "memory", "name"]),
    default="price",
    show_default=True,
)
@format_option
def gpus(
    gpu: str | None,
    cloud: str | None,
    instance_type: str | None,
    min_memory: float | None,
    spot: bool,
    reserved: bool,
    sort: str,
    fmt: str,
) -> None:
    """GPU offers with $/hour and $/GPU-hour (USD) at each offer's cheapest region."""
    from mlcost.catalog import list_gpus

    purchase = "reserved_1y" if reserved else "spot" if spot else "ondemand"
    rows = list_gpus(
        gpu=gpu,
        cloud=cloud,
        instance_type=instance_type,
        min_memory_gib=min_memory,
        purchase=purchase,  # type: ignore[arg-type]
        sort=sort,  # type: ignore[arg-type]
    )
    render_rows(
        [r.to_dict() for r in rows],
        [*COLUMNS, "currency"] if fmt != "table" else COLUMNS,
        fmt,
        title=f"GPU offers, {purchase} USD/hour",
        money_columns=("usd_per_hour", "usd_per_gpu_hour"),
    )
