"""``mlcost budgets status|check`` and ``mlcost policies check|enforce``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from mlcost.cli._common import format_option, render_rows, settings_from, warehouse_from
from mlcost.errors import ConfigError

if TYPE_CHECKING:
    from mlcost.config import AttributionConfig, BudgetConfig, PolicyConfig

_STATUS = (
    "budget",
    "period",
    "amount",
    "spent",
    "used",
    "forecast",
    "forecast_low",
    "forecast_high",
    "forecast_note",
    "crossed",
    "currency",
)
_VIOLATION = (
    "policy",
    "resource_name",
    "resource_id",
    "workload_id",
    "owner",
    "action",
    "executor",
    "reason",
)
_MONEY = ["amount", "spent", "forecast", "forecast_low", "forecast_high"]


@click.group()
def budgets() -> None:
    """Budgets from mlcost.toml: spent, forecast with its 80% interval, thresholds crossed."""


def _no_budgets() -> ConfigError:
    # A ConfigError: the user's configuration lacks what the command needs (exit 2).
    return ConfigError(
        "No budgets configured. Add one to mlcost.toml, e.g.\n"
        '  [budgets.vision]\n  scope = { team = "vision" }\n  amount = 5000\n'
        '  currency = "USD"\nSee docs/budgets.md.'
    )


@budgets.command(epilog="Example: mlcost budgets status --as-of 2026-05-20 --wide")
@click.option("--as-of", type=click.DateTime(), help="Evaluate at this day (default: latest data).")
@format_option
@click.pass_context
def status(ctx: click.Context, as_of: datetime | None, fmt: str) -> None:
    """Each budget in its current period; reads only, sends nothing."""
    from mlcost.budgets import statuses

    settings = settings_from(ctx)
    if not settings.budgets:
        raise _no_budgets()
    # An owner budget reads the owner model, brought up to date first (a write).
    owned = any("owner" in b.scope for b in settings.budgets)
    with warehouse_from(ctx, read_only=not owned) as wh:
        found = statuses(wh, settings.budgets, as_of=as_of, attribution=settings.attribution)
        rows = [s.as_dict() for s in found]
    if fmt == "table":
        rows = [r | {"period": month_or_range(r["period"])} for r in rows]
    render_rows(
        rows,
        _STATUS,
        fmt,
        title="Budgets (forecast: the period's expected total, its 80% interval with --wide)",
        money_columns=_MONEY,
        ratio_columns=["used"],
        wide_columns=["forecast_low", "forecast_high", "forecast_note"],
    )


def month_or_range(period: str) -> str:
    """``2026-05-01..2026-05-31`` -> ``2026-05`` (a calendar month); any other period as is.

    >>> month_or_range("2026-05-01..2026-05-31"), month_or_range("2026-05-03..2026-05-09")
    ('2026-05', '2026-05-03..2026-05-09')
    """
    import calendar
    from datetime import date

    first, _, last = period.partition("..")
    try:
        a, b = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        return period
    month_end = calendar.monthrange(a.year, a.month)[1]
    if a.day == 1 and (b.year, b.month, b.day) == (a.year, a.month, month_end):
        return f"{a:%Y-%m}"
    return period


@budgets.command(
    name="check", epilog="Example: mlcost budgets check --no-send (record, deliver later)"
)
@click.option("--as-of", type=click.DateTime(), help="Evaluate at this day (default: latest data).")
@click.option("--no-send", is_flag=True, help="Record new alerts but do not deliver them yet.")
@format_option
@click.pass_context
def check_budgets(ctx: click.Context, as_of: datetime | None, no_send: bool, fmt: str) -> None:
    """Record alerts for thresholds newly crossed (once per period) and deliver pending ones.

    Exits 1 when a delivery failed (it stays pending and is retried on the next run)."""
    from mlcost.budgets import evaluate

    settings = settings_from(ctx)
    if not settings.budgets:
        raise _no_budgets()
    # An opener, not an open warehouse: it is closed while alerts are delivered (issue 22).
    _, report = evaluate(
        lambda: warehouse_from(ctx),
        settings.budgets,
        settings.channels,
        as_of=as_of,
        send=not no_send,
        attribution=settings.attribution,
    )
    rows = [{"alert": k, "channel": c, "outcome": "sent", "error": ""} for k, c in report.sent]
    rows += [
        {"alert": k, "channel": c, "outcome": "failed", "error": e} for k, c, e in report.failed
    ]
    rows += [{"alert": k, "channel": c, "outcome": "held", "error": ""} for k, c in report.held]
    render_rows(
        rows,
        ["alert", "channel", "outcome", "error"],
        fmt,
        title="Alert deliveries",
        id_columns=["alert"],
    )
    if report.failed:
        click.echo(
            f"{len(report.failed)} delivery(ies) failed; they stay pending and the next "
            "budgets check or watch round retries them.",
            err=True,
        )
        ctx.exit(1)


@click.group()
def policies() -> None:
    """Guardrail policies from mlcost.toml: violations, and (with --execute) actions."""


def _policies(
    ctx: click.Context,
) -> tuple[tuple[PolicyConfig, ...], tuple[BudgetConfig, ...], AttributionConfig]:
    settings = settings_from(ctx)
    if not settings.policies:
        raise ConfigError(
            "No policies configured. Add one to mlcost.toml, e.g.\n"
            '  [policies.idle-gpu]\n  kind = "idle"\n  max_utilization = 0.05\n  minutes = 60\n'
            "See docs/budgets.md."
        )
    return settings.policies, settings.budgets, settings.attribution


@policies.command(name="check")
@format_option
@click.pass_context
def check_policies(ctx: click.Context, fmt: str) -> None:
    """List violations and the action each would take; changes nothing."""
    from mlcost.policies import check

    found, budgets, attribution = _policies(ctx)
    with warehouse_from(ctx, read_only=True) as wh:
        rows = [vars(v) for v in check(wh, found, budgets=budgets, attribution=attribution)]
    render_rows(
        rows,
        _VIOLATION,
        fmt,
        title="Violations",
    )


@policies.command()
@click.option("--execute", is_flag=True, help="Act. Without it nothing is changed (dry-run).")
@format_option
@click.pass_context
def enforce(ctx: click.Context, execute: bool, fmt: str) -> None:
    """Decide on every violation and, with --execute, act; every decision is audited.

    Exits 1 when a decision failed (no credentials, an unreachable API): the others still ran."""
    from mlcost.policies import enforce as run

    found, budgets, attribution = _policies(ctx)
    with warehouse_from(ctx) as wh:
        decisions = run(wh, found, execute=execute, budgets=budgets, attribution=attribution)
        rows = [d.as_dict() for d in decisions]
    table = ["policy", "resource_name", "resource", "owner", "action", "mode", "outcome", "detail"]
    render_rows(
        rows,
        # JSON: every field of a decision (provider, account, region, resource_type, executor).
        list(rows[0]) if rows and fmt == "json" else table,
        fmt,
        title="Guardrail decisions" + ("" if execute else " (dry-run: add --execute to act)"),
    )
    failed = [d for d in decisions if d.outcome == "failed"]
    if failed:
        click.echo(f"{len(failed)} decision(s) failed; see their detail above.", err=True)
        ctx.exit(1)
