"""Planners: memory, cheapest GPU, spot economics, total cost of ownership. Pure: no warehouse."""

from __future__ import annotations

from mlcost.plan._models import PRESETS, ModelSpec, model_from_config, preset
from mlcost.plan.memory import MemoryEstimate, estimate_memory, model_spec

__all__ = [
    "PRESETS",
    "MemoryEstimate",
    "ModelSpec",
    "estimate_memory",
    "model_from_config",
    "model_spec",
    "preset",
]
