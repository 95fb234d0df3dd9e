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


# --purchase as `plan gpu` spells it (the catalog's price kinds); on-demand and reserved
# (as `mlcost run` spells them) are accepted too.
PURCHASES = ("ondemand", "spot", "reserved_1y", "on-demand", "reserved")
_CATALOG = {"on-demand": "ondemand", "reserved": "reserved_1y"}


@click.command(epilog="Example: mlcost gpus --gpu H100 --purchase spot --cloud aws")
@click.option("--gpu", default=None, help="GPU model, e.g. H100, A100-80GB, L4.")
@click.option("--cloud", default=None, help="Only this cloud, e.g. aws, gcp, azure, lambda.")
@click.option("--instance", "instance_type", default=None, help="Only this instance type.")
@click.option("--min-memory", type=float, default=None, help="Minimum GiB per GPU.")
@click.option(
    "--purchase",
    type=click.Choice(PURCHASES),
    default=None,
    help="Price kind: ondemand (default), spot or reserved_1y (1 year, AWS).",
)
# Deprecated spellings of --purchase spot / reserved (hidden; they still work).
@click.option("--spot", is_flag=True, hidden=True)
@click.option("--reserved", is_flag=True, hidden=True)
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
    purchase: str | None,
    spot: bool,
    reserved: bool,
    sort: str,
    fmt: str,
) -> None:
    """GPU offers with $/hour and $/GPU-hour (USD) at each offer's cheapest region."""
    from mlcost.catalog import list_gpus

    if spot or reserved:
        old = "--spot" if spot else "--reserved"
        new = "spot" if spot else "reserved_1y"
        if purchase is not None and purchase != new:
            raise click.UsageError(f"{old} and --purchase {purchase} disagree: keep --purchase.")
        click.echo(f"Note: {old} is now --purchase {new}.", err=True)
        purchase = new
    kind = _CATALOG.get(purchase or "ondemand", purchase or "ondemand")
    rows = list_gpus(
        gpu=gpu,
        cloud=cloud,
        instance_type=instance_type,
        min_memory_gib=min_memory,
        purchase=kind,  # type: ignore[arg-type]
        sort=sort,  # type: ignore[arg-type]
    )
    render_rows(
        [r.to_dict() for r in rows],
        [*COLUMNS, "currency"] if fmt != "table" else COLUMNS,
        fmt,
        title=f"GPU offers, {kind} USD/hour",
        money_columns=("usd_per_hour", "usd_per_gpu_hour"),
        wide_columns=("regions", "interruption", "price_date"),
    )
