"""The weekly report: spend this week against last week and the 4-week average, what changed,
GPU used vs idle, budgets with forecasts, anomalies, open insights and unit costs.

:func:`weekly_report` computes the data (a frozen :class:`WeeklyReport`) with the same
library functions as ``mlcost spend``, ``mlcost showback``, ``mlcost budgets`` and ``mlcost
insights``; :func:`render_html` (self-contained, charts as inline SVG), :func:`render_markdown`
and :func:`render_slack` turn it into text; :func:`send_reports` delivers them through the
notify channels, once per week, owner and channel. See docs/report.md.
"""

from mlcost.report._build import weekly_report, weekly_reports
from mlcost.report._model import (
    Anomaly,
    BudgetLine,
    Change,
    GpuLine,
    Insight,
    Line,
    UnitLine,
    WeeklyReport,
    WeekSpend,
    parse_owner,
)
from mlcost.report._render import render, render_html, render_markdown, render_slack
from mlcost.report._week import Coverage, IsoWeek, coverage, default_week, parse_week

__all__ = [
    "Anomaly",
    "BudgetLine",
    "Change",
    "Coverage",
    "GpuLine",
    "Insight",
    "IsoWeek",
    "Line",
    "UnitLine",
    "WeekSpend",
    "WeeklyReport",
    "coverage",
    "default_week",
    "parse_owner",
    "parse_week",
    "render",
    "render_html",
    "render_markdown",
    "render_slack",
    "weekly_report",
    "weekly_reports",
]
