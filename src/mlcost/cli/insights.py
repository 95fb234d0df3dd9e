"""``mlcost insights``: the waste the detectors find, worst first, with a total."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

import click

from mlcost.cli._common import render_rows, settings_from, warehouse_from
from mlcost.insights import KINDS

if TYPE_CHECKING:
    from mlcost.insights import Finding

KIND_CHOICES = KINDS  # every kind a finding may carry (insights._finding)


def filter_findings(
    findings: list[Finding], owner: str | None, min_saving: float | None
) -> list[Finding]:
    out = [f for f in findings if owner is None or f.owner == owner]
    if min_saving is not None:
        floor = Decimal(str(min_saving))
        out = [f for f in out if f.monthly_saving.expected >= floor or f.kind == "untagged"]
    return out


def render_findings(findings: list[Finding], fmt: str, *, limit: int | None = None) -> None:
    """Print findings as a table with a total (people) or the JSON list (scripts)."""
    if fmt == "json":
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2, default=str))
        return
    shown = findings[:limit] if limit else findings
    currency = findings[0].monthly_saving.currency if findings else "USD"
    rows = [
        {
            "kind": f.kind,
            "owner": f.owner or "",
            # Readable: the resource's name (the billed id is in --format json).
            "resource": (f.resource_name or f.resource_id or "")[:40],
            "monthly": f.monthly_saving.expected,
            "action": f.action,
        }
        for f in shown
    ]
    render_rows(
        rows,
        ["kind", "owner", "resource", "monthly", "action"],
        "table",
        title=f"Insights: monthly saving ({currency}), worst first",
        money_columns=["monthly"],
    )
    total = sum((f.monthly_saving.expected for f in findings), Decimal(0))
    more = f" (top {len(shown)} shown)" if len(shown) < len(findings) else ""
    click.echo(
        f"{len(findings)} findings{more}, {total:,.2f} {currency} a month expected. "
        "Evidence: mlcost insights --format json"
    )


@click.command()
@click.option(
    "--kind", "kinds", multiple=True, type=click.Choice(KIND_CHOICES), help="Only these kinds."
)
@click.option("--owner", default=None, help="Only findings of this owner (team).")
@click.option(
    "--min-saving", type=float, default=None, help="Only findings saving at least this a month."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="table for people, json for scripts.",
)
@click.option(
    "--save/--no-save",
    default=True,
    show_default=True,
    help="Store the findings in the recommendations table (a rerun updates them).",
)
@click.pass_context
def insights(
    ctx: click.Context,
    kinds: tuple[str, ...],
    owner: str | None,
    min_saving: float | None,
    fmt: str,
    save: bool,
) -> None:
    """Find idle GPUs, runaway jobs, spot candidates, oversized GPUs and endpoints,
    cross-region transfer, spend anomalies and untagged spend, each with a monthly saving."""
    from mlcost.insights import run_insights, save_findings

    config = settings_from(ctx).attribution
    with warehouse_from(ctx, read_only=not save) as wh:
        findings = run_insights(wh, config, kinds=kinds or None)
        if save:
            save_findings(wh, findings)
    render_findings(filter_findings(findings, owner, min_saving), fmt)
