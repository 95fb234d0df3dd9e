"""``mlcost demo``: load the bundled FOCUS sample into a fresh warehouse and show spend."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import click

from mlcost.cli._common import render_rows


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("mlcost-demo"),
    show_default=True,
    help="Folder for the demo warehouse (recreated on each run).",
)
def demo(out: Path) -> None:
    """The main job on bundled data: ingest the FOCUS sample, print spend."""
    from mlcost import ingest_focus, open_warehouse, spend

    out.mkdir(parents=True, exist_ok=True)
    db = out / "warehouse.duckdb"
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    sample = out / "focus_sample_1000.csv"
    with resources.as_file(resources.files("mlcost.data") / "samples" / sample.name) as src:
        shutil.copyfile(src, sample)
    with open_warehouse(f"duckdb://{db.resolve()}") as wh:
        result = ingest_focus(wh, [sample])
        click.echo(
            f"Loaded {result.rows:,} rows of FOCUS {', '.join(result.focus_versions)} into {db}"
        )
        for by in (["ServiceProviderName"], ["ServiceProviderName", "ServiceName"]):
            rows = spend(wh, by=by).limit(15).to_pyarrow().to_pylist()
            render_rows(
                rows,
                [*by, "EffectiveCost", "BillingCurrency"],
                "table",
                title=f"EffectiveCost by {', '.join(by)}",
                money_columns=["EffectiveCost"],
            )
    click.echo(f"Explore it: mlcost --warehouse {db} spend --by tag:environment")
