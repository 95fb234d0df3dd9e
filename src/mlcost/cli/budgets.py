"""``mlcost budgets status|check`` and ``mlcost policies check|enforce|exempt|audit``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from mlcost.cli._common import format_option, render_rows, settings_from, warehouse_from
from mlcost.errors import ConfigError

if TYPE_CHECKING:
    from mlcost.config import Settings

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
_DECISION = (
    "policy",
    "resource_name",
    "resource_id",
    "owner",
    "decision",
    "action",
    "executor",
    "deadline",
    "reason",
    "detail",
)


def _columns(rows: Sequence[dict[str, Any]], fmt: str) -> Sequence[str]:
    """A decision's columns: the table's few; in JSON every field (provider, account,
    region, resource_type, executor, deadline, ...)."""
    return list(rows[0]) if rows and fmt == "json" else list(_DECISION)


# Shown with --wide only, so a decision's table fits 100 columns (JSON has every field).
_DECISION_WIDE = ["resource_id", "executor", "detail"]


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


def _policies(ctx: click.Context) -> Settings:
    settings = settings_from(ctx)
    if not settings.policies:
        raise ConfigError(
            "No policies configured. Add one to mlcost.toml, e.g.\n"
            '  [policies.idle-gpu]\n  kind = "idle"\n  max_utilization = 0.05\n  minutes = 60\n'
            '  grace = "24h"\nSee docs/budgets.md.'
        )
    return settings


# Dates, and moments to the minute or second (UTC).
_MOMENT = click.DateTime(
    ["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
)
_AS_OF = click.option(
    "--as-of",
    type=_MOMENT,
    help="Evaluate at this moment, UTC (default: now, on the latest data).",
)


@policies.command(
    name="check", epilog="Example: mlcost policies check --as-of '2026-05-30 23:00' --wide"
)
@_AS_OF
@format_option
@click.pass_context
def check_policies(ctx: click.Context, as_of: datetime | None, fmt: str) -> None:
    """What enforce would decide on each violation; changes nothing, calls no provider.

    A violation not yet marked shows as 'marked' with the deadline it would get."""
    from mlcost.policies import review

    s = _policies(ctx)
    with warehouse_from(ctx, read_only=True) as wh:
        found = review(
            wh,
            s.policies,
            now=as_of,
            budgets=s.budgets,
            attribution=s.attribution,
            owners=s.owners,
        )
        rows = [d.as_dict() for d in found]
    render_rows(
        rows,
        _columns(rows, fmt),
        fmt,
        title="Guardrail decisions (check: nothing is changed)",
        wide_columns=_DECISION_WIDE,
    )


@policies.command(
    epilog="Example: mlcost policies enforce --as-of 2026-06-01 (then --execute to act)"
)
@click.option("--execute", is_flag=True, help="Act. Without it nothing is acted on (dry-run).")
@_AS_OF
@format_option
@click.pass_context
def enforce(ctx: click.Context, execute: bool, as_of: datetime | None, fmt: str) -> None:
    """Mark new violations and tell their owners (dry-run too); past a mark's deadline, act
    with --execute. Every step is audited.

    Exits 1 when a decision failed (no credentials, an unreachable API): the others still ran."""
    from mlcost.policies import enforce as run

    s = _policies(ctx)
    with warehouse_from(ctx) as wh:
        decisions = run(
            wh,
            s.policies,
            execute=execute,
            now=as_of,
            budgets=s.budgets,
            attribution=s.attribution,
            owners=s.owners,
            channels=s.channels,
        )
        rows = [d.as_dict() for d in decisions]
    render_rows(
        rows,
        _columns(rows, fmt),
        fmt,
        title="Guardrail decisions" + ("" if execute else " (dry-run: add --execute to act)"),
        wide_columns=_DECISION_WIDE,
    )
    failed = [d for d in decisions if d.decision == "failed"]
    if failed:
        click.echo(f"{len(failed)} decision(s) failed; see their detail above.", err=True)
        ctx.exit(1)


@policies.command(
    name="exempt",
    epilog="Example: mlcost policies exempt vision-dev-big --until 2026-06-15 "
    "--reason 'benchmark run for the paper'",
)
@click.argument("resource")
@click.option(
    "--until",
    type=_MOMENT,
    help="Keep it through this day (a date) or up to this moment, UTC.",
)
@click.option("--for-good", is_flag=True, help="Keep it with no end (instead of --until).")
@click.option("--reason", required=True, help="Why it must keep running (audited).")
@click.option("--policy", "policy", default=None, help="Only from this policy (default: all).")
@click.pass_context
def exempt_resource(
    ctx: click.Context,
    resource: str,
    until: datetime | None,
    for_good: bool,
    reason: str,
    policy: str | None,
) -> None:
    """Keep RESOURCE (billed id, instance id or name; or a workload id) from the policies."""
    from datetime import timedelta

    from mlcost.policies import exempt

    if (until is None) == (not for_good):
        raise click.UsageError("give --until DATE, or --for-good")
    s = _policies(ctx)
    if policy is not None and policy not in {p.name for p in s.policies}:
        names = ", ".join(sorted(p.name for p in s.policies))
        raise ConfigError(f"no policy {policy!r} in mlcost.toml; configured: {names}.")
    if until is not None and until.time() == until.min.time():
        until += timedelta(days=1)  # a date keeps it through that day
    with warehouse_from(ctx) as wh:
        row = exempt(wh, resource, until=until, reason=reason, policy=policy)
    kept = f"until {row.until:%Y-%m-%d %H:%M} UTC" if row.until else "for good"
    click.echo(
        f"Kept {row.resource_id} from {row.policy or 'every policy'} {kept}: {row.reason} "
        f"(by {row.actor}; see mlcost policies audit)."
    )


@policies.command(name="audit", epilog="Example: mlcost policies audit --limit 20 --wide")
@click.option("--limit", type=int, default=50, show_default=True, help="Newest rows shown.")
@format_option
@click.pass_context
def audit(ctx: click.Context, limit: int, fmt: str) -> None:
    """Every mark, notice, exemption and action: who, when, why, how it ended."""
    from mlcost.policies import audit_rows

    with warehouse_from(ctx, read_only=True) as wh:
        rows = audit_rows(wh)[:limit]
    cols = ["acted_at", "actor", "policy", "resource_id", "action", "mode", "outcome", "reason"]
    render_rows(
        [{**r, "acted_at": str(r["acted_at"])} for r in rows],
        [*cols, "detail"],
        fmt,
        title="Guardrail audit (newest first)",
        wide_columns=["mode", "detail"],
    )
