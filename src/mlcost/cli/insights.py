"""``mlcost insights``: the waste the detectors find, worst first, with a total."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

import click

from mlcost.cli._common import render_rows, settings_from, warehouse_from
from mlcost.cli._table import wide_option
from mlcost.insights import KINDS
from mlcost.insights._context import COMMITMENT_LOOKBACK_DAYS

if TYPE_CHECKING:
    from datetime import datetime

    from mlcost.insights import Finding, InsightsRun, Plan

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
    """Print findings as a table with totals (people) or the JSON list (scripts).

    A recurring saving (``monthly``) and money spent once (``one-off``) sit in their own
    columns and totals: one-off waste is never added into the monthly saving."""
    from mlcost.insights import saving_totals

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
            "resource": f.resource_name or f.resource_id or "",
            "monthly": f.monthly_saving.expected if f.recurring else None,
            "one-off": None if f.recurring else f.monthly_saving.expected,
            "action": f.action,
        }
        for f in shown
    ]
    render_rows(
        rows,
        ["kind", "owner", "resource", "monthly", "one-off", "action"],
        "table",
        title=f"Insights ({currency}): recurring monthly saving, or one-off waste already "
        "spent; worst first",
        money_columns=["monthly", "one-off"],
        id_columns=["resource"],
    )
    totals = saving_totals(findings)
    more = f" (top {len(shown)} shown)" if len(shown) < len(findings) else ""
    click.echo(
        f"{len(findings)} findings{more}: {_amounts(totals['recurring'], currency)} a month "
        f"recurring; {_amounts(totals['one_off'], currency)} one-off waste already spent (not "
        "monthly). Evidence: mlcost insights --format json"
    )


def _amounts(per_currency: dict[str, Decimal], default: str) -> str:
    if not per_currency:
        return f"0.00 {default}"
    return " + ".join(f"{v:,.2f} {c}" for c, v in sorted(per_currency.items()))


@click.command(epilog="Example: mlcost insights --kind idle_gpu --kind rightsize --min-saving 100")
@click.option(
    "--kind", "kinds", multiple=True, type=click.Choice(KIND_CHOICES), help="Only these kinds."
)
@click.option("--owner", default=None, help="Only findings of this owner (team).")
@click.option(
    "--min-saving", type=float, default=None, help="Only findings saving at least this a month."
)
@click.option(
    "--from", "start", type=click.DateTime(), help="Only charges from this date (inclusive)."
)
@click.option("--to", "end", type=click.DateTime(), help="Only charges before this date.")
@click.option(
    "--commitment-lookback",
    "lookback",
    type=click.FloatRange(min=1),
    default=COMMITMENT_LOOKBACK_DAYS,
    show_default=True,
    help="Days of history a commitment level needs (and is read from: the most recent).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "csv", "json")),
    default="table",
    show_default=True,
    help="table for people, csv (one row per finding) or json (with evidence) for scripts.",
)
@wide_option
@click.option(
    "--plan",
    "as_plan",
    is_flag=True,
    help="One plan without overlap: each resource-hour's saving counted once (stop idle -> "
    "rightsize -> spot -> commit on what is left), one-off waste apart.",
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
    start: datetime | None,
    end: datetime | None,
    lookback: float,
    fmt: str,
    as_plan: bool,
    save: bool,
) -> None:
    """Find idle GPUs, runaway jobs, spot candidates, oversized GPUs and endpoints,
    data transfer, spend anomalies and untagged spend, each with a monthly saving.

    Runs on the data's own time range (inside --from/--to) and names the detectors it skipped
    because their input is not loaded (a bill alone runs the bill's detectors)."""
    from mlcost.cli._empty import no_cost_rows
    from mlcost.insights import insights_run, save_findings

    config = settings_from(ctx).attribution
    with warehouse_from(ctx, read_only=not save, create=False) as wh:
        run = insights_run(
            wh,
            config,
            kinds=kinds or None,
            start=start,
            end=end,
            commitment_lookback_days=lookback,
        )
        if save:
            # Only a run over all the data may close what it no longer finds.
            whole = start is None and end is None
            save_findings(wh, run.findings, ran=run.ran if whole else None)
        empty = no_cost_rows(wh, start, end)
    shown = filter_findings(run.findings, owner, min_saving)
    if as_plan:
        from mlcost.insights import build_plan

        if fmt == "csv":
            raise click.UsageError("--plan answers in table or json: drop --format csv.")

        assert run.context is not None
        render_plan(build_plan(run.context, shown), fmt)
        if fmt != "json":
            render_run(run, empty)
        return
    if fmt == "json":
        body = run.as_dict()
        body["findings"] = [f.as_dict() for f in shown]
        body["empty_reason"] = empty
        click.echo(json.dumps(body, indent=2, default=str))
        return
    if fmt == "csv":
        render_rows([_csv_row(f) for f in shown], CSV_COLUMNS, "csv")
        return
    render_findings(shown, "table")
    render_run(run, empty)


CSV_COLUMNS = [
    "id",
    "kind",
    "owner",
    "resource_name",
    "resource_id",
    "monthly_saving",
    "one_off_waste",
    "low",
    "high",
    "currency",
    "confidence",
    "action",
]


def _csv_row(f: Finding) -> dict[str, object]:
    """One finding as a flat row: the expected amount in monthly_saving (recurring) or
    one_off_waste (money spent once), its range and currency."""
    s = f.monthly_saving
    return {
        "id": f.id,
        "kind": f.kind,
        "owner": f.owner,
        "resource_name": f.resource_name,
        "resource_id": f.resource_id,
        "monthly_saving": s.expected if f.recurring else None,
        "one_off_waste": None if f.recurring else s.expected,
        "low": s.low,
        "high": s.high,
        "currency": s.currency,
        "confidence": f.confidence,
        "action": f.action,
    }


def render_plan(plan: Plan, fmt: str) -> None:
    """The plan: its actions, totals by owner and by action, what was dropped and why."""
    if fmt == "json":
        click.echo(json.dumps(plan.as_dict(), indent=2, default=str))
        return
    c = plan.currency
    rows = [
        {
            "action": a["action"],
            "owner": a["owner"] or "",
            "resource": a["resource_id"] or f"{len(a['resource_ids'])} resources",
            "monthly": Decimal(str(a["monthly_saving"]["expected"])),
            "what": a["text"],
        }
        for a in plan.actions
    ]
    render_rows(
        rows,
        ["action", "owner", "resource", "monthly", "what"],
        "table",
        title=f"Savings plan ({c}/month, each resource-hour counted once)",
        money_columns=["monthly"],
        id_columns=["resource"],
    )
    for key in ("owner", "action"):
        parts = ", ".join(f"{k} {v:,.2f}" for k, v in plan.by(key).items())
        click.echo(f"By {key}: {parts or 'none'}.")
    for d in plan.dropped:
        click.echo(f"Dropped {d['finding_id']}: {d['reason']}.")
    click.echo(
        f"Recurring: {plan.recurring_monthly_saving:,.2f} {c} a month without overlap; "
        f"one-off waste already spent (apart): {plan.one_off_waste:,.2f} {c}."
    )


def render_run(run: InsightsRun, empty: str | None) -> None:
    """The window read, the detectors skipped with their reason, and why nothing was found."""
    from mlcost.cli._empty import say

    if run.window is not None:
        a, b = run.window
        days = (b - a).total_seconds() / 86400
        click.echo(
            f"Window: {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} UTC ({days:.1f} days, "
            "the data's own range)."
        )
    for name, reason in sorted(run.skipped.items()):
        click.echo(f"Skipped {name}: {reason}.")
    if empty is not None:
        say(empty)
