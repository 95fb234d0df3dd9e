"""``mlcost units``: unit costs with their numerator and denominator (thin: parse, call, render)."""

from __future__ import annotations

import json
from typing import Any

import click

from mlcost.cli._common import format_option, render_rows, settings_from, warehouse_from


@click.command(epilog="Example: mlcost units --by model --month 2026-05 --format json")
@click.option(
    "--by",
    type=click.Choice(["model", "experiment", "owner"]),
    default="model",
    show_default=True,
    help="model: per 1M input/output tokens, per 1,000 predictions, lifecycle phases; "
    "experiment: per experiment, run and unit of improvement; owner: per run and experiment.",
)
@click.option("--month", help="Charges starting in this month, YYYY-MM (default: all loaded).")
@click.option(
    "--metric",
    help="With --by experiment: the run metric whose improvement is priced, e.g. eval_loss.",
)
@click.option(
    "--higher-is-better", is_flag=True, help="The metric is a score (accuracy), not a loss."
)
@click.option(
    "--api-input-price",
    type=click.FloatRange(min=0),
    help="With --by model: an LLM API's USD per 1M input tokens, to compare self-hosting with.",
)
@click.option(
    "--api-output-price",
    type=click.FloatRange(min=0),
    help="With --by model: the API's USD per 1M output tokens.",
)
@format_option
@click.pass_context
def units(
    ctx: click.Context,
    by: str,
    month: str | None,
    metric: str | None,
    higher_is_better: bool,
    api_input_price: float | None,
    api_output_price: float | None,
    fmt: str,
) -> None:
    """Cost per run, experiment, model phase, 1,000 predictions, 1M tokens and improvement.

    Every figure shows what it divides: money (numerator) over units (denominator). Costs are
    the owner model's (allocated_costs, as showback builds it); self-hosted tokens pay their
    endpoint's GPU cost, idle share included.
    """
    from mlcost.attribution import month_window
    from mlcost.attribution.unit_costs import unit_costs

    start, end = month_window(month) if month else (None, None)
    config = settings_from(ctx).attribution
    with warehouse_from(ctx, create=False) as wh:
        result = unit_costs(
            wh,
            by,
            start,
            end,
            metric=metric,
            lower_is_better=not higher_is_better,
            config=config,
        )
    if (api_input_price is None) != (api_output_price is None):
        raise click.UsageError("give both --api-input-price and --api-output-price")
    if api_input_price is not None and api_output_price is not None:
        from mlcost.plan import versus_api

        result = result.with_rows(*versus_api(result.rows, api_input_price, api_output_price))
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    rows = [flatten(r, table=fmt == "table") for r in result.rows]
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    rows = [dict.fromkeys(columns) | r for r in rows]
    window = month or "all loaded months"
    render_rows(rows, columns, fmt, title=f"Unit costs by {by}, {window}")
    if fmt == "table":
        for note in result.notes:
            click.echo(note)


def flatten(row: dict[str, Any], *, table: bool) -> dict[str, Any]:
    """One row for a table (a figure as ``value (numerator / denominator)``) or CSV (value,
    numerator, currency and denominator columns)."""
    from mlcost.attribution.unit_costs import Figure

    out: dict[str, Any] = {}

    def put(name: str, v: Any) -> None:
        if isinstance(v, Figure):
            if table:
                out[name] = v.text()
            else:
                out[name] = v.value
                out[f"{name}_numerator"] = v.numerator
                out[f"{name}_currency"] = v.currency
                out[f"{name}_denominator"] = v.denominator
        elif name == "traffic" and table:
            return
        elif name == "tenants":
            out[name] = "; ".join(
                f"{t['tenant'] or '(none)'} {t['cost'].numerator:,.2f} {t['cost'].currency}"
                for t in v
                if t["cost"].numerator is not None
            )
        elif name == "vs_api" and table:
            out[name] = (
                "-"
                if not v
                else (
                    f"{v['cheaper']} cheaper: break-even {v['break_even_tokens_per_second']:,.0f} "
                    f"tokens/s, measured {v['measured_tokens_per_second'] or 0:,.0f}"
                )
            )
        elif name == "lifecycle" and isinstance(v, dict) and table:
            parts = [f"{k} {x['amount']}" for k, x in v.items() if x is not None and k != "total"]
            out[name] = ", ".join(parts) + (f" {v['total']['currency']}" if v.get("total") else "")
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(x, dict) and "amount" in x:
                    out[f"{name}_{k}"] = f"{x['amount']} {x['currency']}"
                else:
                    put(f"{name}_{k}", x)
        else:
            out[name] = v

    for k, v in row.items():
        put(k, v)
    return out
