"""``mlcost showback``, ``mlcost tags audit`` and ``mlcost export focus``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlcost.cli._common import format_option, render_rows, settings_from, warehouse_from
from mlcost.cli._table import is_wide, top_rows, wide_option

if TYPE_CHECKING:
    from mlcost.attribution.showback import Showback
    from mlcost.attribution.tags import OwnerKey
    from mlcost.warehouse import Warehouse

_COLUMNS = (
    "owner",
    "direct",
    "shared",
    "gpu_used",
    "gpu_idle",
    "gpu_unmeasured",
    "unallocated",
    "total",
    "currency",
)


@click.command(
    epilog="Example: mlcost showback --month 2026-05 --top 10 (or --format html > showback.html)"
)
@click.option(
    "--month",
    default=None,
    help="Billing month, YYYY-MM (charges starting in it); default: the latest with data.",
)
@click.option("--by", default=None, help="Owner tag key (default: [attribution] owner, team).")
@click.option("--owner", default=None, help="Only this owner's statement.")
@click.option("--top", type=click.IntRange(min=1), default=None, help="Only the N largest owners.")
@click.option(
    "--min", "minimum", type=float, default=None, help="Only owners with at least this total."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "html"]),
    default="table",
    show_default=True,
    help="table for people, csv / json for scripts, html for a readable page.",
)
@wide_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write showback-<month>.csv and .html into this folder.",
)
@click.pass_context
def showback(
    ctx: click.Context,
    month: str | None,
    by: str | None,
    owner: str | None,
    top: int | None,
    minimum: float | None,
    fmt: str,
    out: Path | None,
) -> None:
    """Statements per owner: direct, shared, GPU used vs idle, unallocated; reconciled."""
    import json

    from mlcost.attribution import render_html
    from mlcost.attribution import showback as build
    from mlcost.cli._empty import latest_month, say

    config = settings_from(ctx).attribution
    with warehouse_from(ctx, create=False) as wh:
        month = month or latest_month(wh)
        if month is None:  # no bill at all
            from mlcost.cli._empty import no_cost_rows

            say(no_cost_rows(wh, None, None) or "no cost rows")
            return
        sb = build(wh, config, month, by=by)
        if sb.reused:
            say(
                f"{month}: its bill, workloads, telemetry and rules are unchanged since the last "
                "showback; allocation reused"
            )
        empty = _empty_showback(wh, sb, month)
    rows = [s.as_dict() for s in sb.statements]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _write_csv(out / f"showback-{month}.csv", rows)
        (out / f"showback-{month}.html").write_text(render_html(sb), encoding="utf-8")
    if empty is not None:
        say(empty)
        if not rows:  # nothing to show: no empty table that says "balanced"
            if fmt == "json":
                click.echo("[]")
            return
    if owner is not None:
        known = ", ".join(str(r["owner"]) for r in rows)
        rows = [r for r in rows if r["owner"] == owner]
        if not rows:
            say(f"no statement for owner {owner!r} in {month}; the owners are {known}")
            if fmt == "json":
                click.echo("[]")
            return
    rows, left_out = top_rows(
        rows, "total", top=top, minimum=minimum, noun="owner", currency=sb.currency
    )
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "html":
        click.echo(render_html(sb), nl=False)
    else:
        money = [c for c in _COLUMNS if c not in ("owner", "currency")]
        columns = _COLUMNS if fmt == "csv" else _COLUMNS[:-1]  # the table has it in its title
        render_rows(
            rows,
            columns,
            fmt,
            title=f"Showback {month} by {sb.owner_key} ({sb.currency})",
            money_columns=money,
        )
    if left_out is not None:
        click.echo(left_out, err=True)
    if fmt == "table":
        rec = sb.reconciliation
        state = "balanced" if rec.balanced else "NOT BALANCED"
        click.echo(
            f"Bill {month}: EffectiveCost {rec.effective[0]:,.2f}, allocated "
            f"{rec.effective[1]:,.2f}; BilledCost {rec.billed[0]:,.2f}, allocated "
            f"{rec.billed[1]:,.2f} {sb.currency} ({state})."
        )


def _empty_showback(wh: Warehouse, sb: Showback, month: str) -> str | None:
    """Why a month's showback says nothing useful: no cost rows in the month, no owner tag
    on any of its cost, or GPU cost with no telemetry to split it into used and idle."""
    from mlcost.attribution import month_window
    from mlcost.attribution.showback import UNALLOCATED
    from mlcost.cli._empty import no_cost_rows, no_telemetry_linked

    empty = no_cost_rows(wh, *month_window(month))
    if empty is not None:
        return empty
    if sb.statements and all(s.owner == UNALLOCATED for s in sb.statements):
        return f"no owner key '{sb.owner_key}' in this bill: see `mlcost tags audit`"
    gpu = [s for s in sb.statements if s.gpu_used or s.gpu_idle or s.gpu_unmeasured]
    if gpu and not any(s.gpu_used or s.gpu_idle for s in gpu):
        return no_telemetry_linked(wh)
    return None


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    names = [*_COLUMNS, "gpu_unallocated", "billed", "gpu_hours", "coverage"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@click.group()
def tags() -> None:
    """Tag policy: what is untagged or breaks the policy ([attribution] in mlcost.toml)."""


@tags.command(epilog="Example: mlcost tags audit --month 2026-05 --top 10")
@click.option("--month", default=None, help="Only charges starting in this month (YYYY-MM).")
@click.option(
    "--top",
    "--limit",
    "limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Rows to show, worst first (0: all).",
)
@click.option(
    "--suggest-config",
    is_flag=True,
    help="Print the [attribution] block for this bill (owner key by coverage) and stop.",
)
@format_option
@click.pass_context
def audit(
    ctx: click.Context, month: str | None, limit: int, suggest_config: bool, fmt: str
) -> None:
    """Untagged and non-compliant spend by account and resource, worst first, and which tag
    key carries ownership in this bill."""
    from mlcost.attribution import audit_tags, month_window
    from mlcost.attribution.tags import owner_keys
    from mlcost.attribution.tags import suggest_config as suggest

    config = settings_from(ctx).attribution
    start, end = month_window(month) if month else (None, None)
    with warehouse_from(ctx, read_only=True) as wh:
        if suggest_config:
            click.echo(suggest(owner_keys(wh, start=start, end=end)), nl=False)
            return
        result = audit_tags(wh, config, start=start, end=end)
    rows = [
        {
            "account": r.account,
            "resource_name": r.resource_name or "",
            "resource": r.resource or "(no resource)",
            "status": r.status,
            "missing": ", ".join(r.missing),
            "invalid": ", ".join(r.invalid),
            f"cost ({result.currency})": r.cost,
            "share": r.share,
        }
        for r in result.rows[: limit or None]
    ]
    columns = list(rows[0]) if rows else ["account", "resource", "status"]
    if fmt == "table" and not is_wide():
        # Readable name first: the resource's name, else its id (shortened from the front).
        rows = [r | {"resource": r["resource_name"] or r["resource"]} for r in rows]
        columns = [c for c in columns if c != "resource_name"]
        click.echo("Resources by name (--wide: with their full ids).")
    render_rows(
        rows,
        columns,
        fmt,
        title=f"Tag audit ({result.metric}, {result.currency})",
        money_columns=[f"cost ({result.currency})"],
        id_columns=["account", "resource"],
        ratio_columns=["share"],
    )
    if fmt == "table" and len(result.rows) > len(rows):
        click.echo(f"Showing the worst {len(rows)} of {len(result.rows):,} (--top 0: all).")
    if fmt == "table":
        click.echo(
            f"Untagged {result.untagged:,.2f} {result.currency} ({result.untagged_share:.1%}), "
            f"non-compliant {result.non_compliant:,.2f} ({result.non_compliant_share:.1%}) of "
            f"{result.total:,.2f}; no owner tag ({config.owner}) "
            f"{result.owner_missing:,.2f} ({result.owner_missing_share:.1%})."
        )
        click.echo(owner_key_line(result.owner_keys, config.owner, result.currency))


def owner_key_line(keys: Sequence[OwnerKey], configured: str, currency: str) -> str:
    """Which key carries ownership in this bill, by coverage of absolute cost."""
    if not keys:
        return "Ownership key: none (the bill has no tags)."
    best = keys[0]
    ties = [k for k in keys[1:] if round(k.share, 3) == round(best.share, 3)]
    tie = (
        f"; tied with {', '.join(k.key for k in ties)}"
        + ("" if any(k.ownership for k in ties) else " (keys that describe the resource)")
        if ties
        else ""
    )
    told = (
        ""
        if best.key == configured
        else f" [attribution] owner is {configured!r}: `mlcost tags audit --suggest-config`."
    )
    return (
        f"Ownership key: {best.key} ({', '.join(best.spellings)}) on {best.share:.1%} of the "
        f"bill's absolute cost ({best.coverage:,.2f} {currency}){tie}.{told}"
    )


@click.group()
def export() -> None:
    """Write mlcost data in formats other tools read."""


@export.command(epilog="Example: mlcost export focus --month 2026-05 allocated.parquet")
@click.option(
    "--version",
    "version",
    type=click.Choice(["1.3"]),
    default="1.3",
    show_default=True,
    help="FOCUS version to write.",
)
@click.option("--month", default=None, help="Only charges starting in this month (YYYY-MM).")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def focus(ctx: click.Context, version: str, month: str | None, out: Path) -> None:
    """The allocated costs as FOCUS (CSV, or Parquet for *.parquet) with split-allocation columns.

    Run `mlcost showback --month YYYY-MM` first: it builds the allocation.
    """
    from mlcost.attribution import export_focus

    with warehouse_from(ctx, read_only=True) as wh:
        n = export_focus(wh, out, version=version, month=month)
    click.echo(f"Wrote {n:,} FOCUS {version} rows to {out}")
