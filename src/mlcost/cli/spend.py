"""``mlcost spend``: spend by any dimensions, in the billing currency."""

from __future__ import annotations

from datetime import datetime

import click

from mlcost.cli._common import format_option, render_rows, settings_from, warehouse_from
from mlcost.cli._table import top_rows

_METRICS = ("EffectiveCost", "BilledCost", "ListCost", "ContractedCost")


def _dims(value: str) -> list[str]:
    """The --by dimensions; a usage error (exit 2) for one the table already has a column
    for (the currency, the amounts) or one named twice."""
    dims = [d.strip() for d in value.split(",") if d.strip()]
    if not dims:
        raise click.BadParameter(
            "name at least one dimension, e.g. ServiceProviderName", param_hint="--by"
        )
    for d in dims:
        if d == "BillingCurrency":
            raise click.BadParameter(
                "every row is already per BillingCurrency (its own column); drop it from --by",
                param_hint="--by",
            )
        if d in _METRICS:
            raise click.BadParameter(
                f"{d} is an amount, not a dimension; choose it with --metric {d}",
                param_hint="--by",
            )
    twice = sorted({d for d in dims if dims.count(d) > 1})
    if twice:
        raise click.BadParameter(f"{', '.join(twice)} named more than once", param_hint="--by")
    return dims


@click.command(
    epilog="Example: mlcost spend --by ServiceName,owner --from 2026-05-01 --to 2026-06-01 --top 10"
)
@click.option(
    "--by",
    "by",
    default="ServiceProviderName",
    show_default=True,
    help=(
        "Comma-separated dimensions: FOCUS columns, owner (attribution's owner of each "
        "dollar), a normalized tag key (project, env) or tag:<key> (the raw tag)."
    ),
)
@click.option(
    "--metric",
    type=click.Choice(_METRICS),
    default="EffectiveCost",
    show_default=True,
    help="EffectiveCost (amortized, for showback) or BilledCost (the invoice view), ...",
)
@click.option("--from", "start", type=click.DateTime(), help="Charges from this date (inclusive).")
@click.option("--to", "end", type=click.DateTime(), help="Charges before this date (exclusive).")
@click.option(
    "--owner",
    default=None,
    help="Only this owner's dollars (attribution's owner, as --by owner shows them).",
)
@click.option("--top", type=click.IntRange(min=1), default=None, help="Only the N largest rows.")
@click.option(
    "--min", "minimum", type=float, default=None, help="Only rows of at least this amount."
)
@format_option
@click.pass_context
def spend(
    ctx: click.Context,
    by: str,
    metric: str,
    start: datetime | None,
    end: datetime | None,
    owner: str | None,
    top: int | None,
    minimum: float | None,
    fmt: str,
) -> None:
    """Spend grouped by dimensions, largest first, one currency per row."""
    from mlcost.attribution.model import is_owner_dimension
    from mlcost.attribution.model import spend as spend_query
    from mlcost.cli._empty import check_window, no_cost_rows, say

    dims = _dims(by)
    check_window(start, end)
    config = settings_from(ctx).attribution
    # --owner: group by the owner too, keep that owner's rows (one per dims and currency).
    query_dims = dims if owner is None or "owner" in dims else [*dims, "owner"]
    # The owner model is brought up to date first when a dimension reads it (a write).
    owned = any(is_owner_dimension(d, config) for d in query_dims)
    with warehouse_from(ctx, read_only=not owned) as wh:
        query = spend_query(
            wh, by=query_dims, metric=metric, start=start, end=end, attribution=config
        )
        rows = query.to_pyarrow().to_pylist()
        empty = None if rows else no_cost_rows(wh, start, end)
    if owner is not None:
        known = sorted({str(r["owner"]) for r in rows})
        rows = [r for r in rows if r["owner"] == owner]
        if not rows and known and empty is None:
            empty = f"no spend of owner {owner!r} here; the owners are {', '.join(known)}"
    if empty is not None:
        say(empty)
        if fmt == "table":  # no empty table: the reason says it all
            return
    rows, left_out = top_rows(
        rows, metric, top=top, minimum=minimum, noun="row", currency="BillingCurrency"
    )
    render_rows(
        rows,
        [*dims, metric, "BillingCurrency"],
        fmt,
        title=f"{metric} by {', '.join(dims)}",
        money_columns=[metric],
        id_columns=[d for d in dims if d.endswith(("Id", "ResourceId"))],
    )
    if left_out is not None:
        click.echo(left_out, err=True)
