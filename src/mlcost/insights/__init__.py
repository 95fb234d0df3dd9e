"""Insights: detectors that find waste, say what to change and price each finding.

One module per detector (``idle``, ``rightsize``, ``spot``, ``runaway``, ``endpoint``,
``transfer``, ``anomaly``, ``untagged``), registered by kind in ``DETECTORS``; each takes a
:class:`Context` and returns frozen :class:`Finding` values whose ids are stable across runs,
so :func:`save_findings` updates the ``recommendations`` row of a finding seen before
(``_store.py``: insights' own store over the warehouse's general operations).
See docs/insights.md.
"""

from mlcost.insights._context import Context, HourRow
from mlcost.insights._finding import (
    KINDS,
    ONE_OFF_KINDS,
    Finding,
    Saving,
    finding_id,
    money,
    saving_totals,
)
from mlcost.insights._plan import Plan, build_plan, stored_plan
from mlcost.insights._registry import DETECTORS, insights_run, run_insights
from mlcost.insights._run import NEEDS, InsightsRun
from mlcost.insights._store import FindingStore, load_findings, save_findings

__all__ = [
    "DETECTORS",
    "KINDS",
    "NEEDS",
    "ONE_OFF_KINDS",
    "Context",
    "Finding",
    "FindingStore",
    "HourRow",
    "InsightsRun",
    "Plan",
    "Saving",
    "build_plan",
    "finding_id",
    "insights_run",
    "load_findings",
    "money",
    "run_insights",
    "save_findings",
    "saving_totals",
    "stored_plan",
]
