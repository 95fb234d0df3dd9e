"""A showback month as one self-contained, readable HTML page (no script, no external file)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcost.attribution.showback import Showback

_COLUMNS = (
    ("direct", "Direct"),
    ("shared", "Shared"),
    ("gpu_used", "GPU used"),
    ("gpu_idle", "GPU idle"),
    ("gpu_unmeasured", "GPU unmeasured"),
    ("unallocated", "Unallocated"),
    ("total", "Total"),
)
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{padding:.3em .8em;border-bottom:1px solid #ddd}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#666}"
)


def render_html(sb: Showback) -> str:
    """The statements, their GPU used/idle split, workload types, models and reconciliation."""
    cur = escape(sb.currency)
    head = "".join(f'<th class="n">{escape(t)} ({cur})</th>' for _, t in _COLUMNS)
    rows = []
    for s in sb.statements:
        cells = "".join(f'<td class="n">{getattr(s, c):,.2f}</td>' for c, _ in _COLUMNS)
        cov = "" if s.coverage is None else f"{s.coverage:.1%}"
        rows.append(f"<tr><td>{escape(s.owner)}</td>{cells}<td class='n'>{cov}</td></tr>")
    details = []
    for s in sb.statements:
        types = ", ".join(f"{escape(k)} {v:,.2f}" for k, v in s.by_workload_type.items())
        models = ", ".join(f"{escape(k)} {v:,.2f}" for k, v in s.by_model.items())
        details.append(
            f"<h3>{escape(s.owner)}</h3><p>You paid {s.gpu_used + s.gpu_idle:,.2f} {cur} for "
            f"GPUs, {s.gpu_idle:,.2f} {cur} of it idle.</p>"
            f"<p>By workload type: {types or '—'}</p><p>By model: {models or '—'}</p>"
        )
    rec = sb.reconciliation
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Showback {escape(sb.month)}"
        f"</title><style>{_STYLE}</style></head><body>"
        f"<h1>Showback {escape(sb.month)} by {escape(sb.owner_key)}</h1>"
        f"<table><tr><th>Owner</th>{head}<th class='n'>GPU telemetry coverage</th></tr>"
        f"{''.join(rows)}</table>"
        f"<p>Reconciliation: EffectiveCost bill {rec.effective[0]:,.2f}, allocated "
        f"{rec.effective[1]:,.2f}; BilledCost bill {rec.billed[0]:,.2f}, allocated "
        f"{rec.billed[1]:,.2f} ({cur}). {'Balanced.' if rec.balanced else 'NOT BALANCED.'}</p>"
        f"{''.join(details)}"
        "<p class='note'>GPU used/idle from GPU_UTIL (share of time a kernel ran); "
        "see docs/attribution.md.</p></body></html>\n"
    )
