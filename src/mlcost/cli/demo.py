"""``mlcost demo``: generate the synthetic organization and show what it spends."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mlcost.cli._common import format_option, render_rows

if TYPE_CHECKING:
    from mlcost.attribution import Showback, TagAudit
    from mlcost.demo import DemoSummary
    from mlcost.insights import Finding

F = TypeVar("F", bound=Callable[..., Any])

_size = [
    click.option(
        "--days", type=int, default=30, show_default=True, help="Days of data, from 2026-05-01."
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes."),
    click.option(
        "--scale",
        type=float,
        default=1.0,
        show_default=True,
        help="1.0 is a few hundred thousand USD a month.",
    ),
]


def _with_size(f: F) -> F:
    for option in reversed(_size):
        f = option(f)
    return f


def _generate(out: Path, days: int, seed: int, scale: float, *, quiet: bool = False) -> None:
    from rich.progress import Progress

    from mlcost.demo import generate_demo

    with Progress(transient=True, disable=quiet) as bar:
        task = bar.add_task("generating", total=1.0)

        def step(label: str, done: float) -> None:
            bar.update(task, completed=done, description=f"generating: {label}")

        generate_demo(out, days=days, seed=seed, scale=scale, progress=step)


def _is_current(out: Path, days: int, seed: int, scale: float) -> bool:
    manifest = out / "manifest.json"
    if not manifest.exists():
        return False
    m = json.loads(manifest.read_text(encoding="utf-8"))
    return (m.get("days"), m.get("seed"), m.get("scale")) == (days, seed, scale)


@click.group(invoke_without_command=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("mlcost-demo"),
    show_default=True,
    help="Folder for the generated organization.",
)
@_with_size
@format_option
@click.pass_context
def demo(ctx: click.Context, out: Path, days: int, seed: int, scale: float, fmt: str) -> None:
    """Generate a fictional ML organization (or reuse it) and show its spend.

    Run `mlcost demo generate --help` to only write the files.
    """
    if ctx.invoked_subcommand is not None:
        return
    quiet = fmt != "table"
    if not _is_current(out, days, seed, scale):
        _generate(out, days, seed, scale, quiet=quiet)
    s, sb, audit, findings = _load_and_summarize(out, quiet=quiet)
    money = f"EffectiveCost ({s.currency})"
    render_rows(
        [{"team": t, money: c, "share": f"{c / s.total:.1%}"} for t, c in s.by_team],
        ["team", money, "share"],
        fmt,
        title=f"Spend by team tag ({s.currency})",
        money_columns=[money],
    )
    if quiet:
        return
    render_rows(
        [{"provider": p, money: c} for p, c in s.by_provider],
        ["provider", money],
        fmt,
        title=f"Spend by provider ({s.currency})",
        money_columns=[money],
    )
    click.echo(
        f"Total {s.total:,.2f} {s.currency}; untagged (no team tag) {s.untagged:,.2f} "
        f"{s.currency} = {s.untagged_share:.1%}."
    )
    click.echo(
        "Team tags are grouped as the bill writes them (team, Team or team_name); spellings "
        "such as 'ml-search' and 'search' are still apart. Showback normalizes them:"
    )
    if sb is not None and audit is not None:
        _print_attribution(sb, audit)
    if findings:
        from mlcost.cli.insights import render_findings

        render_findings(findings, "table", limit=8)
    _print_budgets(out)
    print_units(out)
    _print_policies(out)
    click.echo(
        f"Warehouse: {out / WAREHOUSE}; planted waste: {out}/ground_truth.json; "
        f"settings: {out}/mlcost.toml.\n"
        f"Explore: cd {out} && mlcost insights; "
        f"mlcost showback --month {sb.month if sb else 'YYYY-MM'} --format html > showback.html; "
        "mlcost tags audit; mlcost spend --by owner; mlcost units --by experiment; "
        "mlcost report weekly --out weekly-report.html\n"
        f"What it holds, what is configured and what to run next: cd {out} && mlcost status"
    )


def _print_attribution(sb: Showback, audit: TagAudit) -> None:
    money = [
        "direct",
        "shared",
        "gpu_used",
        "gpu_idle",
        "unallocated",
        "total",
    ]
    render_rows(
        [s.as_dict() for s in sb.statements],
        ["owner", *money],
        "table",
        title=f"Showback {sb.month} by {sb.owner_key} ({sb.currency}, EffectiveCost)",
        money_columns=money,
    )
    rec = sb.reconciliation
    gpu = sum((x.gpu_used + x.gpu_idle for x in sb.statements), Decimal(0))
    idle = sum((x.gpu_idle for x in sb.statements), Decimal(0))
    click.echo(
        f"GPUs cost {gpu:,.2f} {sb.currency} with workloads on them, {idle:,.2f} of it idle. "
        f"Statements {rec.effective[1]:,.2f} = bill {rec.effective[0]:,.2f} (EffectiveCost); "
        f"{rec.billed[1]:,.2f} = {rec.billed[0]:,.2f} (BilledCost)."
    )
    rows = [
        {
            "resource": r.resource_name or (r.resource or "(no resource)").rsplit("/", 1)[-1],
            "status": r.status,
            "missing": ", ".join(r.missing),
            "cost": r.cost,
            "share": f"{r.share:.1%}",
        }
        for r in audit.rows[:8]
    ]
    render_rows(
        rows,
        ["resource", "status", "missing", "cost", "share"],
        "table",
        title=f"Tag audit: worst of {len(audit.rows)} resources ({audit.currency})",
        money_columns=["cost"],
    )
    click.echo(
        f"Untagged {audit.untagged_share:.1%}, non-compliant {audit.non_compliant_share:.1%} "
        f"of the bill; no team tag: {audit.owner_missing:,.2f} {audit.currency} "
        f"({audit.owner_missing_share:.1%})."
    )
    from mlcost.cli.attribution import owner_key_line

    click.echo(owner_key_line(audit.owner_keys, "team", audit.currency))


WAREHOUSE = "warehouse.duckdb"
ALERTS = "alerts.jsonl"


def _print_budgets(out: Path) -> None:
    """Evaluate the demo's monthly budgets; new alerts go to the file channel."""
    from mlcost.budgets import evaluate
    from mlcost.demo._config import demo_attribution, demo_budgets
    from mlcost.warehouse import DuckDBTarget, open_warehouse

    budgets, channels = demo_budgets(out)
    with open_warehouse(DuckDBTarget(str((out / WAREHOUSE).resolve()))) as wh:
        found, report = evaluate(wh, budgets, channels, attribution=demo_attribution())
    rows = []
    for st in found:
        f = st.forecast
        rows.append(
            {
                "budget": st.budget.name,
                "spent": st.spent,
                "of": st.budget.amount,
                "used": f"{st.used:.0%}",
                "forecast": "-"
                if f.total is None or f.low is None or f.high is None
                else f"{f.total / 1e3:,.1f}k ({f.low / 1e3:,.1f}-{f.high / 1e3:,.1f}k)",
                "crossed": ", ".join(
                    f"{c.threshold:.0%}{'*' if c.kind == 'forecast' else ''}" for c in st.crossed
                )
                or "-",
            }
        )
    currency = found[0].currency if found else ""
    render_rows(
        rows,
        ["budget", "spent", "of", "used", "forecast", "crossed"],
        "table",
        title=f"Monthly budgets ({currency}, EffectiveCost; forecast with its 80% interval; "
        "* = forecast threshold)",
        money_columns=["spent", "of"],
    )
    click.echo(
        f"{len(report.sent)} alert(s) written to {out / ALERTS} (each threshold fires once per "
        f"budget per month). Run again: cd {out} && mlcost budgets check"
    )


def print_units(out: Path, echo: Callable[[str], None] = click.echo) -> None:
    """A few unit costs of the demo's warehouse: per experiment, per 1,000 predictions, per
    1M tokens and self-hosting against an LLM API, where the data has them."""
    from mlcost.attribution.unit_costs import unit_costs
    from mlcost.demo._config import demo_attribution
    from mlcost.demo._prices import API_NAME, API_USD_PER_1M_INPUT, API_USD_PER_1M_OUTPUT
    from mlcost.plan import versus_api
    from mlcost.warehouse import DuckDBTarget, open_warehouse

    with open_warehouse(DuckDBTarget(str((out / WAREHOUSE).resolve()))) as wh:
        config = demo_attribution()
        exp = unit_costs(wh, "experiment", config=config)
        models = unit_costs(wh, "model", config=config)
    echo("Unit costs (EffectiveCost; mlcost units --by model|experiment|owner shows them all):")
    top = ", ".join(
        f"{r['experiment']} {r['usd_per_experiment'].text().split(' (')[0]} "
        f"({r['runs']} run{'' if r['runs'] == 1 else 's'})"
        for r in exp.rows[:3]
    )
    echo(f"  per experiment, most expensive: {top or 'no experiment runs'}")
    served = [r for r in models.rows if "usd_per_1k_predictions" in r]
    for r in served[:3]:
        echo(f"  per 1,000 predictions, {r['model']}: {r['usd_per_1k_predictions'].text()}")
    tokens = [r for r in models.rows if "usd_per_1m_tokens" in r]
    if not tokens:
        echo(
            "  per 1M tokens: no token counters loaded yet (served_tokens is empty); load "
            "vLLM / TGI / Triton counters to see what a token costs on these GPUs."
        )
        return
    rows, _ = versus_api(tokens, API_USD_PER_1M_INPUT, API_USD_PER_1M_OUTPUT)
    for r in rows[:3]:
        tok, vs = r["usd_per_1m_tokens"], r["vs_api"]
        util = "-" if r.get("utilization") is None else f"{r['utilization']:.0%}"
        echo(
            f"  per 1M tokens, {r['model']} (self-hosted, idle included, {util} utilization): "
            f"input {tok['input'].text()}, output {tok['output'].text()}"
        )
        if vs is not None:
            echo(
                f"    vs {API_NAME} at {API_USD_PER_1M_INPUT} / {API_USD_PER_1M_OUTPUT} per 1M: "
                f"self-hosting pays above {vs['break_even_tokens_per_second']:,.0f} tokens/s "
                f"per endpoint; it serves {vs['measured_tokens_per_second']:,.1f} -> "
                f"{vs['cheaper']} is cheaper."
            )


# How a read-only check's decisions read in the demo's summary.
_WOULD = {
    "marked": "to mark and notify",
    "would-act": "due now",
    "skipped": "with no executor (reported)",
    "exempt": "exempt",
    "protected": "protected",
}


def _print_policies(out: Path) -> None:
    """What the demo's guardrails would do (a dry run: nothing is marked, told or stopped)."""
    from collections import Counter

    from mlcost.demo._config import demo_attribution, demo_budgets, demo_policies
    from mlcost.policies import review
    from mlcost.warehouse import DuckDBTarget, open_warehouse

    policies, owners = demo_policies()
    budgets, _ = demo_budgets(out)
    with open_warehouse(DuckDBTarget(str((out / WAREHOUSE).resolve())), read_only=True) as wh:
        found = review(wh, policies, budgets=budgets, attribution=demo_attribution(), owners=owners)
    click.echo(f"Guardrails (dry run; details: cd {out} && mlcost policies check):")
    for p in policies:
        mine = [d for d in found if d.violation.policy == p.name]
        counts = Counter(d.decision for d in mine)
        said = ", ".join(f"{n} {_WOULD.get(k, k)}" for k, n in sorted(counts.items()))
        due = [d for d in mine if d.decision in ("marked", "would-act")]
        names = sorted({str(d.violation.resource_name) for d in due})
        hours = p.grace.total_seconds() / 3600
        grace = f"{p.action} after {hours:g} h notice" if hours else p.action
        shown = f" ({grace}): {', '.join(names[:8])}{', …' if len(names) > 8 else ''}"
        click.echo(f"  {p.name}: {said or 'no violation'}{shown if names else ''}")


def _load_and_summarize(
    out: Path, *, quiet: bool
) -> tuple[DemoSummary, Showback | None, TagAudit | None, list[Finding]]:
    """Ingest the demo's files into a fresh warehouse in ``out``; summarize, and (for people)
    allocate its first month, audit its tags with the demo's ``mlcost.toml`` and run the
    insights (stored in ``recommendations``)."""
    from rich.progress import Progress

    from mlcost import ingest_focus, open_warehouse
    from mlcost.attribution import audit_tags, showback
    from mlcost.demo import summarize
    from mlcost.demo._config import DEMO_CONFIG_TOML, demo_attribution
    from mlcost.demo._org import START
    from mlcost.insights import insights_run, save_findings
    from mlcost.sources import ingest_auto
    from mlcost.warehouse import DuckDBTarget

    db = out / WAREHOUSE
    for stale in (db, db.with_name(db.name + ".wal"), out / ALERTS):
        stale.unlink(missing_ok=True)
    files = sorted((out / "billing").glob("*.csv"))
    with (
        open_warehouse(DuckDBTarget(str(db.resolve()))) as wh,
        Progress(transient=True, disable=quiet) as bar,
    ):
        task = bar.add_task("ingesting", total=1.0)

        def step(done: float, name: str) -> None:
            bar.update(task, completed=done / 2, description=f"ingesting {name}")

        ingest_focus(wh, files, progress=step)
        # Then everything else the sources can read: GPU telemetry and workload records.
        bar.update(task, description="ingesting telemetry and workloads")
        # api-bills/ (a team's OpenAI bill) is absent from folders written before it was added.
        folders = [out / "telemetry", out / "workloads", out / "api-bills"]
        loaded = ingest_auto(wh, [f for f in folders if f.exists()])
        bar.update(task, completed=1.0)
        if not quiet:
            for r in loaded:
                counts = ", ".join(f"{n:,} {table}" for table, n in r.tables.items())
                click.echo(f"Loaded {r.source}: {counts} from {len(r.inputs)} file(s)")
        (out / "mlcost.toml").write_text(DEMO_CONFIG_TOML, encoding="utf-8")
        if quiet:
            return summarize(wh), None, None, []
        config = demo_attribution()
        bar.update(task, description="allocating")
        month = f"{START:%Y-%m}"  # the first month of the organization
        sb, audit = showback(wh, config, month), audit_tags(wh, config)
        bar.update(task, description="finding waste")
        run = insights_run(wh, config)
        save_findings(wh, run.findings, ran=run.ran)
        return summarize(wh), sb, audit, run.findings


@demo.command(epilog="Example: mlcost demo generate --out acme --days 7 --seed 1")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write (billing/, telemetry/, workloads/ are replaced).",
)
@_with_size
def generate(out: Path, days: int, seed: int, scale: float) -> None:
    """Write FOCUS bills, GPU telemetry, scheduler records and ground_truth.json."""
    _generate(out, days, seed, scale)
    click.echo(f"Wrote the organization (seed {seed}, {days} days, scale {scale}) to {out}/")
