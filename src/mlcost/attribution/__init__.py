"""Attribution: every dollar of the bill gets an owner, every GPU-hour is used or idle.

- :mod:`~mlcost.attribution.tags`: aliases, value normalization, the tag policy and its audit;
- :mod:`~mlcost.attribution.gpu`: resource → workloads by GPU share, used vs idle;
- :mod:`~mlcost.attribution.allocate`: shared-cost rules and the ``allocated_costs`` rows
  (FOCUS 1.3 split cost allocation) that sum back to their origin charge;
- :mod:`~mlcost.attribution.classify`: workload type of every cost;
- :mod:`~mlcost.attribution.showback`: statements per owner, reconciliation, drill-down;
- :mod:`~mlcost.attribution.units`: unit costs; :mod:`~mlcost.attribution.export`: FOCUS out.

See docs/attribution.md.
"""

from mlcost.attribution._html import render_html
from mlcost.attribution.allocate import Allocation, allocate, allocation_rows, month_window
from mlcost.attribution.classify import WORKLOAD_TYPES, workload_type
from mlcost.attribution.export import export_focus, focus_columns
from mlcost.attribution.showback import (
    UNALLOCATED,
    Reconciliation,
    Showback,
    Statement,
    drill_down,
    showback,
    statements,
)
from mlcost.attribution.tags import AuditRow, TagAudit, TagRules, audit_tags, learn_tag_rules
from mlcost.attribution.units import (
    cost_per_endpoint,
    cost_per_experiment,
    cost_per_run,
    improvement_per_dollar,
    model_lifecycle,
)

__all__ = [
    "UNALLOCATED",
    "WORKLOAD_TYPES",
    "Allocation",
    "AuditRow",
    "Reconciliation",
    "Showback",
    "Statement",
    "TagAudit",
    "TagRules",
    "allocate",
    "allocation_rows",
    "audit_tags",
    "cost_per_endpoint",
    "cost_per_experiment",
    "cost_per_run",
    "drill_down",
    "export_focus",
    "focus_columns",
    "improvement_per_dollar",
    "learn_tag_rules",
    "model_lifecycle",
    "month_window",
    "render_html",
    "showback",
    "statements",
    "workload_type",
]
