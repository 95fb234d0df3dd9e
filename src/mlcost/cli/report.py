"""``mlcost report weekly``: the weekly cost report as HTML, Markdown or a Slack message."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlcost.cli._common import settings_from, warehouse_from

if TYPE_CHECKING:
    from mlcost.report import WeeklyReport

_SUFFIX = {"html": "html", "md": "md", "slack": "txt"}


@click.group()
def report() -> None:
    """Reports for the people who spend: mlcost report weekly."""


def _format_of(fmt: str | None, out: Path | None) -> str:
    if fmt is not None:
        return fmt
    if out is not None and out.suffix.lower() in (".md", ".markdown"):
        return "md"
    if out is not None and out.suffix.lower() == ".txt":
        return "slack"
    return "html"


@report.command(epilog="Example: mlcost report weekly --week 2026-W20 --per-owner --out reports/")
@click.option("--week", default=None, help="ISO week, e.g. 2026-W47 (default: last complete).")
@click.option(
    "--owner",
    default=None,
    help="Only this owner's costs, budgets and findings: KEY:VALUE, e.g. team:search.",
)
@click.option(
    "--per-owner",
    is_flag=True,
    help="One report per owner (each scoped to its own costs); --out is then a folder.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "slack"]),
    default=None,
    help="html (self-contained page), md (Markdown) or slack (short mrkdwn message); "
    "default: from --out's suffix, else html.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write here (a folder with --per-owner); default: standard output.",
)
@click.option(
    "--send",
    "channel",
    default=None,
    help="Deliver through this [notify.channels.NAME]; with --per-owner the name may hold "
    "{owner}, e.g. slack-{owner}. Once per week, owner and channel.",
)
@click.option("--resend", is_flag=True, help="Send again even if this week's report was sent.")
@click.option(
    "--no-rebuild",
    is_flag=True,
    help="Read allocated_costs as built (skip re-allocating the months the weeks touch).",
)
@click.pass_context
def weekly(
    ctx: click.Context,
    week: str | None,
    owner: str | None,
    per_owner: bool,
    fmt: str | None,
    out: Path | None,
    channel: str | None,
    resend: bool,
    no_rebuild: bool,
) -> None:
    """Spend this week vs last week and the 4-week average, what changed, GPU used vs idle,
    budgets with forecasts, anomalies, open insights and unit costs.

    Numbers are those of `mlcost spend` (the week's total) and `mlcost showback` (owners,
    models, workload types, GPU). See docs/report.md.
    """
    from mlcost.report import parse_owner, parse_week, weekly_reports
    from mlcost.report._send import check_channels, send_reports

    if owner is not None and per_owner:
        raise click.UsageError("--owner and --per-owner exclude each other: choose one.")
    iso = parse_week(week) if week is not None else None
    key, value = parse_owner(owner) if owner is not None else (None, None)
    settings = settings_from(ctx)
    kind = _format_of(fmt, out)
    if channel is not None and not per_owner:
        if "{owner}" in channel:
            raise click.UsageError("--send with {owner} needs --per-owner.")
        check_channels([channel], settings.channels)

    with warehouse_from(ctx, create=False) as wh:
        reports = weekly_reports(
            wh,
            settings.attribution,
            None if per_owner else [value],
            week=iso,
            owner_key=key,
            budgets=settings.budgets,
            rebuild=not no_rebuild,
        )
        if channel is not None and per_owner:
            check_channels([channel.format(owner=r.owner) for r in reports], settings.channels)
        _write(reports, kind, out, per_owner)
        if channel is None:
            return
        pairs = [(r, channel.format(owner=r.owner or "")) for r in reports]
        sent = send_reports(wh, pairs, settings.channels, resend=resend)
    for k in sent.already:
        click.echo(f"Already sent: {k} (pass --resend to send it again).", err=True)
    for k, c in sent.delivery.sent:
        click.echo(f"Sent {k} to {c}.", err=True)
    for k, c, e in sent.delivery.failed:
        click.echo(f"Failed {k} to {c}: {e} (kept pending; the next run retries).", err=True)
    if sent.delivery.failed:
        ctx.exit(1)


def _write(reports: list[WeeklyReport], kind: str, out: Path | None, per_owner: bool) -> None:
    from mlcost.report import render

    if out is None:
        for r in reports:
            click.echo(render(r, kind), nl=False)
        return
    if not per_owner:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(reports[0], kind), encoding="utf-8")
        click.echo(f"Wrote {out}", err=True)
        return
    out.mkdir(parents=True, exist_ok=True)
    for r in reports:
        path = out / f"weekly-{r.week}-{r.owner_key}-{r.owner}.{_SUFFIX[kind]}"
        path.write_text(render(r, kind), encoding="utf-8")
        click.echo(f"Wrote {path}", err=True)
