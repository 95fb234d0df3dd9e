"""Charts as inline SVG strings: no script, no font or file from anywhere, readable offline.

Each function returns one ``<svg>`` element with a ``<title>`` (read by screen readers) and
amounts labelled in the report's currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcost.report._model import BudgetLine, GpuLine, WeekSpend

__all__ = ["PALETTE", "burn_down", "stacked_spend", "used_idle"]

# Colour-blind-safe (Okabe-Ito), then greys for "other".
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#999999",
)
_FONT = 'font-family="system-ui,sans-serif" font-size="11"'
_MAX_SERIES = 7  # the rest is "other"


def _short(amount: float) -> str:
    """1234567 → 1.2M; axis labels only (tables carry the exact amounts)."""
    a = abs(amount)
    for div, unit in ((1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{amount / div:,.1f}{unit}"
    return f"{amount:,.0f}"


def _nice(top: float) -> float:
    """A round axis maximum at or above ``top``."""
    if top <= 0:
        return 1.0
    step = 10 ** (len(str(int(top))) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= top:
            return float(m * step)
    return float(10 * step)


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" {_FONT}><title>{escape(title)}</title>'
    )


def stacked_spend(history: Sequence[WeekSpend], currency: str, *, title: str) -> str:
    """Weekly spend as stacked columns, one colour per part (the largest parts; the rest is
    "other"); an incomplete week is hatched-looking (lighter)."""
    totals: dict[str, Decimal] = {}
    for w in history:
        for k, v in w.parts.items():
            totals[k] = totals.get(k, Decimal(0)) + v
    names = [k for k, _ in sorted(totals.items(), key=lambda kv: -kv[1])][:_MAX_SERIES]
    width, height, left, bottom, top = 640, 260, 64, 40, 16
    plot_h = height - bottom - top
    n = max(len(history), 1)
    slot = (width - left - 150) / n
    peak = _nice(max((float(w.total) for w in history), default=0.0))
    out = [_open(width, height, title)]
    for i in range(5):
        tick = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{left}" x2="{width - 150}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_short(tick)}</text>'
        )
    out.append(
        f'<text x="4" y="{top + plot_h / 2:.0f}" transform="rotate(-90 10 {top + plot_h / 2:.0f})"'
        f' text-anchor="middle">{escape(currency)}</text>'
    )
    for i, w in enumerate(history):
        x = left + i * slot + slot * 0.15
        y = top + plot_h
        other = float(w.total) - sum(float(w.parts.get(k, 0)) for k in names)
        segments = [(k, float(w.parts.get(k, 0))) for k in names] + [("other", other)]
        for j, (k, amount) in enumerate(segments):
            if amount <= 0:
                continue
            h = plot_h * amount / peak
            y -= h
            colour = PALETTE[j] if k != "other" else PALETTE[-1]
            opacity = "" if w.complete else ' fill-opacity="0.45"'
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{colour}"{opacity}><title>{escape(w.week)} {escape(k)}: '
                f"{amount:,.2f} {escape(currency)}</title></rect>"
            )
        label = w.week.split("-")[-1] + ("" if w.complete else "*")
        out.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    legend = [*names, "other"] if any(k not in names for k in totals) else names
    for j, k in enumerate(legend):
        y = top + 4 + j * 18
        colour = PALETTE[-1] if k == "other" else PALETTE[j]
        out.append(
            f'<rect x="{width - 140}" y="{y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{width - 122}" y="{y + 10}">{escape(k[:22])}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def used_idle(gpu: Sequence[GpuLine], currency: str, *, title: str) -> str:
    """Horizontal bars per owner: GPU cost used, idle, unmeasured and unclaimed capacity."""
    parts = (
        ("used", "#009E73"),
        ("idle", "#D55E00"),
        ("unmeasured", "#999999"),
        ("unallocated", "#E69F00"),
    )
    row, left, width = 26, 130, 640
    height = 40 + row * max(len(gpu), 1)
    peak = _nice(max((float(g.total) for g in gpu), default=0.0))
    scale = (width - left - 20) / peak
    out = [_open(width, height, title)]
    for i, g in enumerate(gpu):
        y = 8 + i * row
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(g.owner)}</text>')
        x = float(left)
        for name, colour in parts:
            v = float(getattr(g, name))
            if v <= 0:
                continue
            w = v * scale
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="18" fill="{colour}">'
                f"<title>{escape(g.owner)} {name}: {v:,.2f} {escape(currency)}</title></rect>"
            )
            x += w
    y = height - 14
    x = float(left)
    for name, colour in parts:
        out.append(
            f'<rect x="{x:.0f}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16:.0f}" y="{y}">{name}</text>'
        )
        x += 110
    out.append(f'<text x="{width - 4}" y="{y}" text-anchor="end">{escape(currency)}</text>')
    out.append("</svg>")
    return "".join(out)


def burn_down(b: BudgetLine, *, title: str) -> str:
    """What is left of the budget day by day, and where the forecast puts the period's end:
    the dashed line to the expected remainder, the shaded band its 80% interval."""
    width, height, left, bottom, top = 420, 200, 64, 30, 14
    plot_w, plot_h = width - left - 16, height - bottom - top
    days = max((b.period_end - b.period_start).days, 1)
    amount = float(b.amount)
    left_over = [amount]
    for _, v in b.daily:
        left_over.append(left_over[-1] - float(v))
    ends = [x for x in (b.forecast, b.forecast_low, b.forecast_high) if x is not None]
    low_end = min([left_over[-1], *(amount - float(x) for x in ends)])
    lo = min(0.0, low_end)
    hi = amount
    span = (hi - lo) or 1.0

    def px(day: float, value: float) -> tuple[float, float]:
        return left + plot_w * day / days, top + plot_h * (hi - value) / span

    out = [_open(width, height, title)]
    for tick in (hi, 0.0, lo) if lo < 0 else (hi, hi / 2, 0.0):
        _, y = px(0, tick)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{"#999" if tick == 0 else "#e5e5e5"}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_short(tick)}</text>'
        )
    if lo < 0:
        _, y0 = px(0, 0)
        out.append(
            f'<rect x="{left}" y="{y0:.1f}" width="{plot_w}" height="{top + plot_h - y0:.1f}" '
            'fill="#D55E00" fill-opacity="0.08"><title>over budget</title></rect>'
        )
    seen = len(b.daily)
    if b.forecast is not None and b.forecast_low is not None and b.forecast_high is not None:
        x0, y0 = px(seen, left_over[-1])
        x1, y_hi = px(days, amount - float(b.forecast_low))
        _, y_lo = px(days, amount - float(b.forecast_high))
        _, y_mid = px(days, amount - float(b.forecast))
        out.append(
            f'<polygon points="{x0:.1f},{y0:.1f} {x1:.1f},{y_hi:.1f} {x1:.1f},{y_lo:.1f}" '
            f'fill="#0072B2" fill-opacity="0.18"><title>forecast 80% interval: '
            f"{float(b.forecast_low):,.2f}..{float(b.forecast_high):,.2f} "
            f"{escape(b.currency)} spent by {b.period_end - timedelta(days=1)}</title></polygon>"
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y_mid:.1f}" stroke="#0072B2" '
            'stroke-dasharray="4 3" stroke-width="1.5"/>'
        )
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (px(i, v) for i, v in enumerate(left_over)))
    out.append(
        f'<polyline points="{points}" fill="none" stroke="#0072B2" stroke-width="2">'
        f"<title>left of the budget: {left_over[-1]:,.2f} {escape(b.currency)} "
        f"after {b.as_of}</title></polyline>"
    )
    out.append(
        f'<text x="{left}" y="{height - 10}">{b.period_start}</text>'
        f'<text x="{left + plot_w}" y="{height - 10}" text-anchor="end">'
        f"{b.period_end - timedelta(days=1)}</text>"
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 10}" text-anchor="middle">'
        f"left of {amount:,.0f} {escape(b.currency)}</text>"
    )
    out.append("</svg>")
    return "".join(out)
