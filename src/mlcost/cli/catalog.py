"""``mlcost catalog``: refresh the GPU catalog from a newer SkyPilot catalog checkout."""

from __future__ import annotations

from pathlib import Path

import click

from mlcost.cli._common import format_option, render_rows


@click.group()
def catalog() -> None:
    """The GPU price catalog (packaged data, imported refreshes)."""


@catalog.group(
    name="import", epilog="Example: mlcost catalog import skypilot skypilot-catalog/catalogs/v8"
)
def import_() -> None:
    """Import a newer price list; the packaged data stays as the fallback."""


@import_.command(epilog="Example: mlcost catalog import skypilot skypilot-catalog/catalogs/v8")
@click.argument("directory", type=click.Path(path_type=Path))
@format_option
def skypilot(directory: Path, fmt: str) -> None:
    """Import DIRECTORY, a SkyPilot catalog folder holding <cloud>/vms.csv (e.g. catalogs/v8)."""
    from mlcost.catalog import import_skypilot

    result = import_skypilot(directory)
    rows = [{"cloud": c, "offers": n} for c, n in result.offers_per_cloud.items()]
    render_rows(rows, ["cloud", "offers"], fmt, title=f"Imported catalog {result.version}")
    if fmt == "table":
        click.echo(f"Written to {result.path}; `mlcost gpus` now uses it.")
