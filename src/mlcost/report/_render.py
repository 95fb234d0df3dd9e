"""The weekly report as text: one self-contained HTML page, Markdown, and a short Slack message.

All three read a :class:`~mlcost.report.WeeklyReport` and compute nothing of their own, so
they always agree with it (and with each other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from mlcost.report._svg import burn_down, stacked_spend, used_idle

if TYPE_CHECKING:
    from mlcost.report._data import Line, WeeklyReport

__all__ = ["FORMATS", "render", "render_html", "render_markdown", "render_slack"]

FORMATS = ("html", "md", "slack")
_TOP_LINES = 10


def _m(amount: Decimal | None, currency: str) -> str:
    return "–" if amount is None else f"{amount:,.2f} {currency}"


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
            f"{r.insights_count} open finding(s) would save about {_m(r.insights_total, c)} "
            "a month."
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


def _cls(delta: Decimal) -> str:
    return "up" if delta > 0 else "down" if delta < 0 else ""


def _html_lines(
    lines: Sequence[Line], label: str, currency: str, key: Callable[[str], str] = str
) -> str:
    rows = _line_rows(lines)
    if not rows:
        return "<p class='note'>No costs.</p>"
    head = (
        f"<tr><th>{escape(label)}</th><th class='n'>This week</th><th class='n'>Last week</th>"
        "<th class='n'>Change</th><th class='n'>4-week avg</th><th class='n'>vs avg</th></tr>"
    )
    body = "".join(
        f"<tr><td>{escape(key(x.key))}</td><td class='n'>{_m(x.this_week, currency)}</td>"
        f"<td class='n'>{_m(x.last_week, currency)}</td>"
        f"<td class='n {_cls(x.delta)}'>{_signed(x.delta, currency)} ({_pct(x.change)})</td>"
        f"<td class='n'>{_m(x.average, currency)}</td><td class='n'>{_pct(x.vs_average)}</td>"
        "</tr>"
        for x in rows
    )
    return f"<table>{head}{body}</table>"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    th = "".join(
        f"<th{' class=n' if i in numeric else ''}>{escape(h)}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if i in numeric else ''}>{escape(c)}</td>" for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _counted(count: float, unit: str) -> str:
    noun = "predictions" if unit.endswith("predictions") else f"{unit}s"
    return f"{count:,.0f} {noun}"


def render_html(r: WeeklyReport) -> str:
    """One HTML page with inline CSS and SVG charts: no script, no link, no image file."""
    c = r.currency
    e = escape
    out = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{e(r.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(r.title)}</h1>",
        f"<p class='note'>{r.start}..{r.last} (ISO week, Monday to Sunday, UTC). Data "
        f"{r.data_start}..{r.data_end}; generated {r.generated_at:%Y-%m-%d %H:%M} UTC. "
        f"EffectiveCost (amortized) in {e(c)}.</p>",
    ]
    t = r.total
    cards = [
        ("This week", _m(t.this_week, c)),
        ("vs last week", f"{_signed(t.delta, c)} ({_pct(t.change)})"),
        ("vs 4-week average", f"{_pct(t.vs_average)} (avg {_m(t.average, c)})"),
        ("GPU idle", _m(r.gpu_total.idle, c)),
        ("Open savings / month", _m(r.insights_total, c)),
    ]
    out.append(
        "<div class='cards'>"
        + "".join(f"<div class='card'>{e(k)}<b>{e(v)}</b></div>" for k, v in cards)
        + "</div>"
    )
    out.append("<p>" + e(" ".join(_headline(r))) + "</p>")
    for note in r.notes:
        out.append(f"<p class='note'>{e(note)}</p>")

    split = "workload type" if r.owner else "team"
    out.append(f"<h2>Spend over time by {split}</h2>")
    out.append(stacked_spend(r.history, c, title=f"Weekly spend by {split} ({c})"))
    out.append("<p class='note'>* incomplete week (lighter).</p>")

    out.append("<h2>What changed</h2>")
    out.append(
        _table(
            ["Dimension", "Value", "This week", "Last week", "Change"],
            [
                [
                    ch.dimension,
                    ch.line.key,
                    _m(ch.line.this_week, c),
                    _m(ch.line.last_week, c),
                    f"{_signed(ch.line.delta, c)} ({_pct(ch.line.change)})",
                ]
                for ch in r.changes
            ],
            {2, 3, 4},
        )
        if r.changes
        else "<p class='note'>Nothing changed since last week.</p>"
    )
    out.append("<h3>Top cost drivers (resources)</h3>")
    out.append(_html_lines(r.top_resources, "Resource", c, _short_id))

    for dim, lines in r.breakdowns.items():
        out.append(f"<h2>By {e(dim)}</h2>")
        out.append(_html_lines(lines, dim.capitalize(), c))

    out.append("<h2>GPU: used vs idle</h2>")
    if r.gpu:
        out.append(used_idle(r.gpu, c, title=f"GPU cost used vs idle by {r.owner_key} ({c})"))
        out.append(
            _table(
                [r.owner_key.capitalize(), "Used", "Idle", "Unmeasured", "Unclaimed", "Idle %"],
                [
                    [
                        g.owner,
                        _m(g.used, c),
                        _m(g.idle, c),
                        _m(g.unmeasured, c),
                        _m(g.unallocated, c),
                        "–" if g.idle_share is None else f"{g.idle_share:.0%}",
                    ]
                    for g in (*r.gpu, r.gpu_total)
                ],
                {1, 2, 3, 4, 5},
            )
        )
        out.append(
            "<p class='note'>Used and idle split each workload's GPU cost by measured GPU "
            "utilization; unmeasured has no telemetry; unclaimed is capacity no workload ran "
            "on.</p>"
        )
    else:
        out.append("<p class='note'>No GPU costs this week.</p>")

    out.append("<h2>Budgets</h2>")
    if r.budgets:
        rows = []
        for b in r.budgets:
            band = (
                "–"
                if b.forecast is None
                else f"{_m(b.forecast, b.currency)} ({b.forecast_low:,.0f}..{b.forecast_high:,.0f})"
            )
            rows.append(
                [
                    b.name,
                    f"{b.period_start}..{b.period_end - timedelta(days=1)}",
                    _m(b.amount, b.currency),
                    _m(b.spent, b.currency),
                    f"{b.used:.0%}",
                    band,
                    ", ".join(b.crossed) or "–",
                ]
            )
        out.append(
            _table(
                ["Budget", "Period", "Amount", "Spent", "Used", "Forecast (80%)", "Crossed"],
                rows,
                {2, 3, 4, 5},
            )
        )
        out.append(
            f"<p class='note'>As of {r.budgets[0].as_of}, the week's last day with data.</p>"
        )
        out.append(
            "<div class='charts'>"
            + "".join(
                f"<figure><figcaption>{e(b.name)}</figcaption>"
                + burn_down(b, title=f"Budget {b.name}: what is left, and the forecast band")
                + "</figure>"
                for b in r.budgets
            )
            + "</div>"
        )
    else:
        out.append("<p class='note'>No budgets for this scope (see [budgets] in mlcost.toml).</p>")

    out.append("<h2>Anomalies this week</h2>")
    out.append(
        _table(
            ["Days", "Owner", "Resource", "Excess", "What to check"],
            [
                [
                    f"{a.first_day}..{a.last_day}",
                    a.owner or "–",
                    _short_id(a.resource),
                    _m(a.excess, a.currency),
                    a.action,
                ]
                for a in r.anomalies
            ],
            {3},
        )
        if r.anomalies
        else "<p class='note'>No spend anomaly started this week.</p>"
    )

    out.append("<h2>Top open insights</h2>")
    out.append(
        _table(
            ["Kind", "Owner", "Resource", "Saving / month", "Range", "Action"],
            [
                [
                    i.kind,
                    i.owner or "–",
                    _short_id(i.resource),
                    _m(i.saving, i.currency),
                    f"{i.saving_low:,.0f}..{i.saving_high:,.0f}",
                    i.action,
                ]
                for i in r.insights
            ],
            {3, 4},
        )
        if r.insights
        else "<p class='note'>No open findings.</p>"
    )
    if r.insights_count > len(r.insights):
        out.append(
            f"<p class='note'>{r.insights_count} findings in all; mlcost insights lists them.</p>"
        )

    out.append("<h2>Unit costs</h2>")
    out.append(
        _table(
            ["Unit cost", "This week", "Last week", "4-week avg", "Counted this week"],
            [
                [
                    u.name,
                    _m(u.this_week, c),
                    _m(u.last_week, c),
                    _m(u.average, c),
                    _counted(u.count, u.unit),
                ]
                for u in r.units
            ],
            {1, 2, 3, 4},
        )
    )
    out.append(
        "<p class='note'>Numbers are those of mlcost spend (the week's total) and mlcost "
        "showback (owners, models, workload types, GPU); monthly fees count in the week their "
        "charge period starts. See docs/report.md.</p></body></html>\n"
    )
    return "".join(out)


# --------------------------------------------------------------------------- Markdown


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    sep = ["---:" if i in numeric else "---" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _md_lines(lines: Sequence[Line], label: str, currency: str, key: Callable[[str], str]) -> str:
    rows = _line_rows(lines)
    if not rows:
        return "_No costs._"
    return _md_table(
        [label, "This week", "Last week", "Change", "4-week avg", "vs avg"],
        [
            [
                key(x.key),
                _m(x.this_week, currency),
                _m(x.last_week, currency),
                f"{_signed(x.delta, currency)} ({_pct(x.change)})",
                _m(x.average, currency),
                _pct(x.vs_average),
            ]
            for x in rows
        ],
        {1, 2, 3, 4, 5},
    )


def render_markdown(r: WeeklyReport) -> str:
    """The report as GitHub-flavoured Markdown (tables; no charts)."""
    c = r.currency
    out = [
        f"# {r.title}",
        "",
        f"{r.start}..{r.last} (ISO week, UTC). Data {r.data_start}..{r.data_end}; "
        f"EffectiveCost in {c}.",
        "",
        " ".join(_headline(r)),
        "",
    ]
    out += [f"> {n}" for n in r.notes]
    out += ["", "## What changed", ""]
    out.append(
        _md_table(
            ["Dimension", "Value", "This week", "Last week", "Change"],
            [
                [
                    ch.dimension,
                    ch.line.key,
                    _m(ch.line.this_week, c),
                    _m(ch.line.last_week, c),
                    f"{_signed(ch.line.delta, c)} ({_pct(ch.line.change)})",
                ]
                for ch in r.changes
            ],
            {2, 3, 4},
        )
        if r.changes
        else "_Nothing changed since last week._"
    )
    out += ["", "### Top cost drivers (resources)", ""]
    out.append(_md_lines(r.top_resources, "Resource", c, _short_id))
    for dim, lines in r.breakdowns.items():
        out += ["", f"## By {dim}", "", _md_lines(lines, dim.capitalize(), c, str)]
    out += ["", "## GPU: used vs idle", ""]
    out.append(
        _md_table(
            [r.owner_key.capitalize(), "Used", "Idle", "Unmeasured", "Unclaimed", "Idle %"],
            [
                [
                    g.owner,
                    _m(g.used, c),
                    _m(g.idle, c),
                    _m(g.unmeasured, c),
                    _m(g.unallocated, c),
                    "–" if g.idle_share is None else f"{g.idle_share:.0%}",
                ]
                for g in (*r.gpu, r.gpu_total)
            ],
            {1, 2, 3, 4, 5},
        )
        if r.gpu
        else "_No GPU costs this week._"
    )
    out += ["", "## Budgets", ""]
    out.append(
        _md_table(
            ["Budget", "Amount", "Spent", "Used", "Forecast (80%)", "Crossed"],
            [
                [
                    b.name,
                    _m(b.amount, b.currency),
                    _m(b.spent, b.currency),
                    f"{b.used:.0%}",
                    "–"
                    if b.forecast is None
                    else f"{_m(b.forecast, b.currency)} "
                    f"({b.forecast_low:,.0f}..{b.forecast_high:,.0f})",
                    ", ".join(b.crossed) or "–",
                ]
                for b in r.budgets
            ],
            {1, 2, 3, 4},
        )
        if r.budgets
        else "_No budgets for this scope._"
    )
    out += ["", "## Anomalies this week", ""]
    out.append(
        _md_table(
            ["Days", "Owner", "Resource", "Excess", "What to check"],
            [
                [
                    f"{a.first_day}..{a.last_day}",
                    a.owner or "–",
                    _short_id(a.resource),
                    _m(a.excess, a.currency),
                    a.action,
                ]
                for a in r.anomalies
            ],
            {3},
        )
        if r.anomalies
        else "_No spend anomaly started this week._"
    )
    out += ["", "## Top open insights", ""]
    out.append(
        _md_table(
            ["Kind", "Owner", "Resource", "Saving / month", "Action"],
            [
                [i.kind, i.owner or "–", _short_id(i.resource), _m(i.saving, i.currency), i.action]
                for i in r.insights
            ],
            {3},
        )
        if r.insights
        else "_No open findings._"
    )
    out += ["", "## Unit costs", ""]
    out.append(
        _md_table(
            ["Unit cost", "This week", "Last week", "4-week avg"],
            [[u.name, _m(u.this_week, c), _m(u.last_week, c), _m(u.average, c)] for u in r.units],
            {1, 2, 3},
        )
    )
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
        lines.append(f"*Top savings* ({_m(r.insights_total, c)}/month open)")
        lines += [
            f"• {i.kind} ({i.owner or 'no owner'}): {_m(i.saving, i.currency)}/month: {i.action}"
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
