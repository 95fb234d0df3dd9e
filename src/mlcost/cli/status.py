"""``mlcost status``: what the warehouse holds, what is configured, and what to run next."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from mlcost.cli._common import render_rows, settings_from, target_from
from mlcost.cli._table import wide_option

if TYPE_CHECKING:
    from mlcost.config import Settings
    from mlcost.warehouse import Warehouse

# Table -> (its time column(s): from, to) for the ranges the warehouse holds.
_RANGES = {
    "cost_line_items": ("ChargePeriodStart", "ChargePeriodEnd"),
    "gpu_samples": ("time", "time"),
    "workloads": ("start", "end"),
}
_WHAT = {
    "cost_line_items": "bills (FOCUS rows)",
    "gpu_samples": "GPU telemetry",
    "workloads": "jobs, runs, pods, endpoints",
}


def _held(wh: Warehouse) -> list[dict[str, Any]]:
    """Rows and time range of each table the questions read."""
    out = []
    for table, (a, b) in _RANGES.items():
        t = wh.table(table)
        r = t.aggregate(rows=t.count(), start=t[a].min(), end=t[b].max()).to_pyarrow()
        row = r.to_pylist()[0]
        entry: dict[str, Any] = {
            "table": table,
            "holds": _WHAT[table],
            "rows": row["rows"],
            "from": row["start"],
            "to": row["end"],
        }
        if table == "cost_line_items":
            codes = t.select("BillingCurrency").distinct().to_pyarrow().to_pylist()
            entry["currencies"] = sorted(c["BillingCurrency"] or "" for c in codes)
        out.append(entry)
    return out


def _sources(wh: Warehouse) -> list[dict[str, Any]]:
    """Per source: loads, files and rows loaded, and the last load."""
    i = wh.table("ingests")
    g = i.group_by("source").aggregate(
        loads=i.count(), rows=i.row_count.sum(), last_load=i.loaded_at.max()
    )
    rows: list[dict[str, Any]] = g.order_by("source").to_pyarrow().to_pylist()
    return rows


def _config(settings: Settings, spark: bool) -> dict[str, Any]:
    return {
        "owner_key": settings.attribution.owner,
        "owner_key_from": settings.sources.get("attribution", "default"),
        "budgets": [
            {
                "name": b.name,
                "amount": float(b.amount),
                "currency": b.currency,
                "period": b.period,
                "scope": {k: list(v) for k, v in b.scope.items()},
            }
            for b in settings.budgets
        ],
        "policies": [{"name": p.name, "kind": p.kind} for p in settings.policies],
        "channels": [{"name": c.name, "kind": c.kind} for c in settings.channels.values()],
        "watch_sources": [s.name for s in settings.watch.sources],
        "spark": spark,
        "config_from": sorted(set(settings.sources.values()) - {"default"}),
    }


def _next_steps(
    exists: bool,
    held: list[dict[str, Any]],
    unmatched: list[dict[str, Any]],
    config: dict[str, Any],
    owner_share: float | None,
) -> list[dict[str, str]]:
    """What is missing, each with the command that adds it."""
    rows = {h["table"]: h["rows"] for h in held}
    todo: list[dict[str, str]] = []
    if not exists or not rows.get("cost_line_items"):
        todo.append(
            {
                "missing": "a bill",
                "next": "mlcost ingest focus EXPORT/ (or aws-cur, azure, gcp, oci; "
                "`mlcost demo` for a fictional one)",
            }
        )
    if not rows.get("gpu_samples"):
        todo.append(
            {
                "missing": "GPU telemetry (GPU cost stays unmeasured: neither used nor idle)",
                "next": "mlcost ingest nvidia-smi LOGS/ (or prometheus --url, tracker)",
            }
        )
    for u in unmatched:
        if u["unmatched_rows"]:
            todo.append(
                {
                    "missing": f"{u['names'] - u['matched_names']} {u['table']} name(s) that "
                    "match no billed resource",
                    "next": "mlcost sources --unmatched",
                }
            )
    if owner_share is not None and owner_share < 0.5:
        todo.append(
            {
                "missing": f"owner key '{config['owner_key']}' on only {owner_share:.0%} of "
                "the bill",
                "next": "mlcost tags audit --suggest-config",
            }
        )
    if not config["budgets"]:
        todo.append(
            {
                "missing": "budgets",
                "next": "add [budgets.NAME] to mlcost.toml (docs/budgets.md), then "
                "mlcost budgets status",
            }
        )
    if not config["policies"]:
        todo.append(
            {
                "missing": "guardrail policies",
                "next": "add [policies.NAME] to mlcost.toml (docs/budgets.md), then "
                "mlcost policies check",
            }
        )
    if config["budgets"] and not config["channels"]:
        todo.append(
            {
                "missing": "an alert channel (budget alerts are recorded, not sent)",
                "next": "add [notify.channels.NAME] to mlcost.toml (docs/budgets.md)",
            }
        )
    return todo


def _owner_share(wh: Warehouse, owner: str) -> float | None:
    from mlcost.attribution.tags import owner_keys

    keys = owner_keys(wh)
    if not keys:
        return None
    return next((k.share for k in keys if k.key == owner), 0.0)


@click.command(
    epilog="Example: mlcost status (or mlcost status --format json for scripts)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="table for people, json for scripts.",
)
@wide_option
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """What the warehouse holds (sources, ranges, rows, unmatched names, last loads), what is
    configured (owner key, budgets, policies, channels, Spark), and what to run next.

    Reads only: a missing warehouse is reported, never created.
    """
    from pathlib import Path

    from mlcost.config import redact
    from mlcost.sources.linking import link_summary
    from mlcost.warehouse import DuckDBTarget, open_warehouse

    settings = settings_from(ctx)
    target = target_from(ctx)
    config = _config(settings, spark=target.engine == "spark")
    exists = not (
        isinstance(target, DuckDBTarget)
        and target.path != ":memory:"
        and not Path(target.path).expanduser().exists()
    )
    held: list[dict[str, Any]] = []
    loaded: list[dict[str, Any]] = []
    unmatched: list[dict[str, Any]] = []
    share = None
    if exists:
        with open_warehouse(target, read_only=True) as wh:
            held, loaded = _held(wh), _sources(wh)
            unmatched = link_summary(wh)
            if any(h["rows"] for h in held if h["table"] == "cost_line_items"):
                share = _owner_share(wh, settings.attribution.owner)
    body = {
        "warehouse": {"url": redact(target.url), "engine": target.engine, "exists": exists},
        "sources": loaded,
        "data": held,
        "unmatched": unmatched,
        "owner_key_share": share,
        "config": config,
        "next": _next_steps(exists, held, unmatched, config, share),
    }
    if fmt == "json":
        click.echo(json.dumps(body, indent=2, default=_iso))
        return
    _print(body)


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _print(body: dict[str, Any]) -> None:
    w = body["warehouse"]
    state = "" if w["exists"] else " (not created yet)"
    click.echo(f"Warehouse: {w['url']} ({w['engine']}){state}")
    if body["data"]:
        render_rows(
            [
                h
                | {
                    "from": h["from"] or "",
                    "to": h["to"] or "",
                    "currencies": ", ".join(h.get("currencies", [])),
                }
                for h in body["data"]
            ],
            ["table", "holds", "rows", "from", "to", "currencies"],
            "table",
            title="What the warehouse holds",
        )
    if body["sources"]:
        render_rows(
            body["sources"],
            ["source", "loads", "rows", "last_load"],
            "table",
            title="Loads by source (mlcost sources: each load)",
        )
    for u in body["unmatched"]:
        click.echo(
            f"Linking {u['table']}: {u['matched_names']} of {u['names']} names match a billed "
            f"resource; {u['unmatched_rows']:,} row(s) unmatched."
        )
    c = body["config"]
    share = body["owner_key_share"]
    on = "" if share is None else f", on {share:.1%} of the bill's absolute cost"
    click.echo(f"Owner key: {c['owner_key']} (from {c['owner_key_from']}{on}).")
    budgets = ", ".join(
        f"{b['name']} {b['amount']:,.2f} {b['currency']} {b['period']}" for b in c["budgets"]
    )
    click.echo(f"Budgets: {budgets or 'none'}.")
    policies = ", ".join(f"{p['name']} ({p['kind']})" for p in c["policies"])
    click.echo(f"Policies: {policies or 'none'}.")
    channels = ", ".join(f"{ch['name']} ({ch['kind']})" for ch in c["channels"])
    click.echo(f"Alert channels: {channels or 'none'}.")
    click.echo(f"Watch sources: {', '.join(c['watch_sources']) or 'none'}.")
    click.echo(f"Spark: {'yes' if c['spark'] else 'no (DuckDB)'}.")
    click.echo(f"Configuration from: {'; '.join(c['config_from']) or 'defaults only'}.")
    if body["next"]:
        click.echo("Missing, and what to run:")
        for step in body["next"]:
            click.echo(f"  - {step['missing']}: {step['next']}")
    else:
        click.echo("Nothing missing. Next: mlcost insights; mlcost showback; mlcost report weekly")
