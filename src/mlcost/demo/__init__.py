"""A synthetic ML organization with planted waste, for the demo and for tests.

``generate_demo(out)`` writes FOCUS bills (AWS 1.2, GCP 1.0, Azure 1.3), nvidia-smi and
DCGM telemetry, Slurm / OpenCost / tracker records and ``ground_truth.json``. See
``docs/demo.md`` for the layout and the planted cases.
"""

from __future__ import annotations

from mlcost.demo.generate import DemoOrg, generate_demo
from mlcost.demo.summary import DemoSummary, summarize

__all__ = ["DemoOrg", "DemoSummary", "generate_demo", "summarize"]
