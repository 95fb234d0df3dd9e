"""The weekly report as text: one self-contained HTML page, Markdown, and a short Slack message.

All three read a :class:`~mlcost.report.WeeklyReport` and compute nothing of their own, so
they always agree with it (and with each other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from mlcost.report._svg import burn_down, stacked_spend, used_idle

if TYPE_CHECKING:
    from mlcost.report._model import BudgetLine, Insight, Line, WeeklyReport

__all__ = ["FORMATS", "render", "render_html", "render_markdown", "render_slack"]

FORMATS = ("html", "md", "slack")
_TOP_LINES = 10


def _m(amount: Decimal | None, currency: str) -> str:
    return "–" if amount is None else f"{amount:,.2f} {currency}"


def _saving(i: Insight) -> str:
    """A recurring saving a month, or money already spent once (never called monthly)."""
    if i.saving_type == "recurring":
        return f"{_m(i.saving, i.currency)}/month"
    return f"{_m(i.saving, i.currency)} once (already spent)"


def _one_off(r: WeeklyReport) -> str:
    if not r.insights_one_off:
        return ""
    return f"; {_m(r.insights_one_off, r.currency)} one-off waste apart (already spent)"


def _signed(amount: Decimal, currency: str) -> str:
    return f"{amount:+,.2f} {currency}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:+.1%}"


def _short_id(resource: str | None, width: int = 40) -> str:
    """A resource id that fits a table cell: its end, where ids differ."""
    if not resource:
        return "–"
    return resource if len(resource) <= width else "…" + resource[-(width - 1) :]


def _headline(r: WeeklyReport) -> list[str]:
    c, t = r.currency, r.total
    parts = [
        f"Spent {_m(t.this_week, c)} in {r.week} ({r.start}..{r.last}).",
        f"Last week {_m(t.last_week, c)}: {_signed(t.delta, c)} ({_pct(t.change)}).",
    ]
    if t.average is not None:
        parts.append(
            f"4-week average {_m(t.average, c)}: this week is {_pct(t.vs_average)} against it."
        )
    g = r.gpu_total
    if g.total:
        share = "" if g.idle_share is None else f" ({g.idle_share:.0%} of the measured cost)"
        parts.append(f"GPUs: {_m(g.used, c)} used, {_m(g.idle, c)} idle{share}.")
    if r.insights_count:
        parts.append(
            f"{r.insights_count} open finding(s); their savings plan (each resource-hour "
            f"counted once) would save about {_m(r.insights_total, c)} a month{_one_off(r)}."
        )
    return parts


def _line_rows(lines: Sequence[Line]) -> list[Line]:
    return [x for x in lines if x.this_week or x.last_week][:_TOP_LINES]


# --------------------------------------------------------------------------- HTML

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222;"
    "padding:0 1em}h1{font-size:1.5em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:.6em 0}td,th{padding:.25em .7em;"
    "border-bottom:1px solid #eee;text-align:left}td.n,th.n{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}.up{color:#b3261e}.down{color:#1b7a3a}"
    ".note{color:#666;font-size:.9em}.cards{display:flex;gap:1em;flex-wrap:wrap}"
    ".card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:12em}"
    ".card b{display:block;font-size:1.3em}.charts{display:flex;gap:1em;flex-wrap:wrap}"
)


@dataclass(frozen=True)
class _Table:
    """One table of the report, as text cells: HTML and Markdown draw the same ones."""

    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int]
    empty: str  # what to say when there are no rows


def _line_table(lines: Sequence[Line], label: str, c: str, key: Callable[[str], str]) -> _Table:
    return _Table(
        (label, "This week", "Last week", "Change", "4-week avg", "vs avg"),
        tuple(
            (
                key(x.key),
                _m(x.this_week, c),
                _m(x.last_week, c),
                f"{_signed(x.delta, c)} ({_pct(x.change)})",
                _m(x.average, c),
                _pct(x.vs_average),
            )
            for x in _line_rows(lines)
        ),
        frozenset({1, 2, 3, 4, 5}),
        "No costs.",
    )


def _counted(count: float, unit: str) -> str:
    if unit.endswith("predictions"):
        noun = "predictions"
    else:
        noun = unit if unit.endswith("s") else f"{unit}s"
    return f"{count:,.0f} {noun}"


def _forecast(b: BudgetLine) -> str:
    if b.forecast is None or b.forecast_low is None or b.forecast_high is None:
        return f"– ({b.forecast_note})" if b.forecast_note else "–"
    return f"{_m(b.forecast, b.currency)} ({b.forecast_low:,.0f}..{b.forecast_high:,.0f})"


def _tables(r: WeeklyReport) -> dict[str, _Table]:
    """Every table, by section, in the order the report shows them."""
    c = r.currency
    out = {
        "What changed": _Table(
            ("Dimension", "Value", "This week", "Last week", "Change"),
            tuple(
                (
                    ch.dimension,
                    ch.line.key,
                    _m(ch.line.this_week, c),
                    _m(ch.line.last_week, c),
                    f"{_signed(ch.line.delta, c)} ({_pct(ch.line.change)})",
                )
                for ch in r.changes
            ),
            frozenset({2, 3, 4}),
            "Nothing changed since last week.",
        ),
        "Top cost drivers (resources)": _line_table(r.top_resources, "Resource", c, _short_id),
    }
    for dim, lines in r.breakdowns.items():
        out[f"By {dim}"] = _line_table(lines, dim.capitalize(), c, str)
    out["GPU: used vs idle"] = _Table(
        (r.owner_key.capitalize(), "Used", "Idle", "Unmeasured", "Unclaimed", "Idle %"),
        tuple(
            (
                g.owner,
                _m(g.used, c),
                _m(g.idle, c),
                _m(g.unmeasured, c),
                _m(g.unallocated, c),
                "–" if g.idle_share is None else f"{g.idle_share:.0%}",
            )
            for g in ((*r.gpu, r.gpu_total) if r.gpu else ())
        ),
        frozenset({1, 2, 3, 4, 5}),
        "No GPU costs this week.",
    )
    out["Budgets"] = _Table(
        ("Budget", "Period", "Amount", "Spent", "Used", "Forecast (80%)", "Crossed"),
        tuple(
            (
                b.name,
                f"{b.period_start}..{b.period_end - timedelta(days=1)}",
                _m(b.amount, b.currency),
                _m(b.spent, b.currency),
                f"{b.used:.0%}",
                _forecast(b),
                ", ".join(b.crossed) or "–",
            )
            for b in r.budgets
        ),
        frozenset({2, 3, 4, 5}),
        "No budgets for this scope (see [budgets] in mlcost.toml).",
    )
    out["Anomalies this week"] = _Table(
        ("Days", "Owner", "Resource", "Excess", "What to check"),
        tuple(
            (
                f"{a.first_day}..{a.last_day}",
                a.owner or "–",
                _short_id(a.resource),
                _m(a.excess, a.currency),
                a.action,
            )
            for a in r.anomalies
        ),
        frozenset({3}),
        "No spend anomaly started this week.",
    )
    out["Top open insights"] = _Table(
        ("Kind", "Owner", "Resource", "Saving", "Range", "Action"),
        tuple(
            (
                i.kind,
                i.owner or "–",
                _short_id(i.resource),
                _saving(i),
                f"{i.saving_low:,.0f}..{i.saving_high:,.0f}",
                i.action,
            )
            for i in r.insights
        ),
        frozenset({3, 4}),
        "No open findings.",
    )
    out["Unit costs"] = _Table(
        ("Unit cost", "This week", "Last week", "4-week avg", "Counted this week"),
        tuple(
            (
                u.name,
                _m(u.this_week, c),
                _m(u.last_week, c),
                _m(u.average, c),
                _counted(u.count, u.unit),
            )
            for u in r.units
        ),
        frozenset({1, 2, 3, 4}),
        "No unit costs.",
    )
    if r.owner is None:
        out["Cache savings"] = _Table(
            ("Cache", "Model", "Hits", "Misses", "Hit rate", "Saved"),
            tuple(
                (
                    x.cache,
                    x.model or "–",
                    f"{x.hits:,}",
                    f"{x.misses:,}",
                    "–" if x.hit_rate is None else f"{x.hit_rate:.0%}",
                    "unknown (no cost given)" if x.saved is None else _m(x.saved, x.currency or c),
                )
                for x in r.caches
            ),
            frozenset({2, 3, 4, 5}),
            "No cache statistics this week (cache.report() → mlcost ingest tracker).",
        )
    return out


def _html_table(t: _Table) -> str:
    if not t.rows:
        return f"<p class='note'>{escape(t.empty)}</p>"

    def cell(tag: str, i: int, text: str) -> str:
        cls = " class='n'" if i in t.numeric else ""
        return f"<{tag}{cls}>{escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(t.head))
    body = "".join(
        "<tr>" + "".join(cell("td", i, x) for i, x in enumerate(row)) + "</tr>" for row in t.rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _md_table(t: _Table) -> str:
    if not t.rows:
        return f"_{t.empty}_"

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    sep = ["---:" if i in t.numeric else "---" for i in range(len(t.head))]
    lines = ["| " + " | ".join(t.head) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in t.rows]
    return "\n".join(lines)


def _html_charts(r: WeeklyReport, section: str) -> str:
    """The chart (and its note) that goes before a section's table."""
    c = r.currency
    if section == "GPU: used vs idle" and r.gpu:
        return used_idle(r.gpu, c, title=f"GPU cost used vs idle by {r.owner_key} ({c})")
    if section == "Budgets" and r.budgets:
        return (
            "<div class='charts'>"
            + "".join(
                f"<figure><figcaption>{escape(b.name)}</figcaption>"
                + burn_down(b, title=f"Budget {b.name}: what is left, and the forecast band")
                + "</figure>"
                for b in r.budgets
            )
            + "</div>"
        )
    return ""


_NOTES = {
    "GPU: used vs idle": "Used and idle split each workload's GPU cost by measured GPU "
    "utilization; unmeasured has no telemetry; unclaimed is capacity no workload ran on.",
    "Budgets": "As of the week's last day with data; the band is the forecast's 80% interval.",
}


def render_html(r: WeeklyReport) -> str:
    """One HTML page with inline CSS and SVG charts: no script, no link, no image file."""
    c = r.currency
    e = escape
    t = r.total
    cards = [
        ("This week", _m(t.this_week, c)),
        ("vs last week", f"{_signed(t.delta, c)} ({_pct(t.change)})"),
        ("vs 4-week average", f"{_pct(t.vs_average)} (avg {_m(t.average, c)})"),
        ("GPU idle", _m(r.gpu_total.idle, c)),
        ("Savings plan / month", _m(r.insights_total, c)),
    ]
    split = "workload type" if r.owner else r.owner_key
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{e(r.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(r.title)}</h1>",
        f"<p class='note'>{r.start}..{r.last} (ISO week, Monday to Sunday, UTC). Data "
        f"{r.data_start}..{r.data_end}; generated {r.generated_at:%Y-%m-%d %H:%M} UTC. "
        f"EffectiveCost (amortized) in {e(c)}.</p>",
        "<div class='cards'>"
        + "".join(f"<div class='card'>{e(k)}<b>{e(v)}</b></div>" for k, v in cards)
        + "</div>",
        "<p>" + e(" ".join(_headline(r))) + "</p>",
        *(f"<p class='note'>{e(n)}</p>" for n in r.notes),
        f"<h2>Spend over time by {e(split)}</h2>",
        stacked_spend(r.history, c, title=f"Weekly spend by {split} ({c})"),
        "<p class='note'>* incomplete week (lighter).</p>",
    ]
    for section, table in _tables(r).items():
        level = "h3" if section.startswith("Top cost drivers") else "h2"
        out.append(f"<{level}>{e(section)}</{level}>{_html_charts(r, section)}")
        out.append(_html_table(table))
        if section in _NOTES and table.rows:
            out.append(f"<p class='note'>{e(_NOTES[section])}</p>")
    if r.insights_count > len(r.insights):
        out.append(
            f"<p class='note'>{r.insights_count} findings in all ({r.insights_source}); "
            "mlcost insights lists them.</p>"
        )
    out.append(
        "<p class='note'>Numbers are those of mlcost spend (the week's total) and mlcost "
        "showback (owners, models, workload types, GPU); monthly fees count in the week their "
        "charge period starts. See docs/report.md.</p></body></html>\n"
    )
    return "".join(out)


# --------------------------------------------------------------------------- Markdown


def render_markdown(r: WeeklyReport) -> str:
    """The report as GitHub-flavoured Markdown (the same tables; no charts)."""
    out = [
        f"# {r.title}",
        "",
        f"{r.start}..{r.last} (ISO week, UTC). Data {r.data_start}..{r.data_end}; "
        f"EffectiveCost in {r.currency}.",
        "",
        " ".join(_headline(r)),
        "",
        *(f"> {n}" for n in r.notes),
    ]
    for section, table in _tables(r).items():
        level = "###" if section.startswith("Top cost drivers") else "##"
        out += ["", f"{level} {section}", "", _md_table(table)]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- Slack


def render_slack(r: WeeklyReport) -> str:
    """A short Slack message (mrkdwn): the headline, then the top three of what matters."""
    c, t = r.currency, r.total
    lines = [
        f"*{r.title}* ({r.start}..{r.last})",
        f"Spent *{_m(t.this_week, c)}*: {_signed(t.delta, c)} ({_pct(t.change)}) vs last week"
        + ("" if t.average is None else f", {_pct(t.vs_average)} vs the 4-week average")
        + ".",
    ]
    g = r.gpu_total
    if g.total:
        share = "" if g.idle_share is None else f" ({g.idle_share:.0%})"
        lines.append(f"GPU idle: {_m(g.idle, c)}{share}; used {_m(g.used, c)}.")
    if r.changes:
        lines.append("*What changed*")
        lines += [
            f"• {ch.dimension} {ch.line.key}: {_m(ch.line.this_week, c)} "
            f"({_signed(ch.line.delta, c)})"
            for ch in r.changes[:3]
        ]
    if r.insights:
        lines.append(f"*Top savings* (plan: {_m(r.insights_total, c)}/month{_one_off(r)})")
        lines += [
            f"• {i.kind} ({i.owner or 'no owner'}): {_saving(i)}: {i.action}"
            for i in r.insights[:3]
        ]
    watch = [b for b in r.budgets if b.crossed]
    if watch:
        lines.append("*Budgets*")
        lines += [
            f"• {b.name}: {b.used:.0%} of {_m(b.amount, b.currency)} spent"
            + ("" if b.forecast is None else f", forecast {_m(b.forecast, b.currency)}")
            for b in watch[:3]
        ]
    if r.anomalies:
        a = r.anomalies[0]
        lines.append(
            f"*Anomalies*: {len(r.anomalies)}; largest {_m(a.excess, a.currency)} "
            f"({a.first_day}, {a.owner or 'no owner'})"
        )
    return "\n".join(lines) + "\n"


def render(r: WeeklyReport, fmt: str) -> str:
    """``html``, ``md`` or ``slack``."""
    renderers = {"html": render_html, "md": render_markdown, "slack": render_slack}
    return renderers[fmt](r)
