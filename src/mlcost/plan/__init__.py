"""Planners: memory, cheapest GPU, spot economics, total cost of ownership. Pure: no warehouse."""

from __future__ import annotations

from mlcost.plan._models import PRESETS, ModelSpec, model_from_config, preset
from mlcost.plan.gpu import Fit, GpuPlan, cheapest_fit
from mlcost.plan.memory import MemoryEstimate, estimate_memory, model_spec
from mlcost.plan.requests import GpuRequest, MemoryRequest, SpotRequest, TcoRequest, train_flops
from mlcost.plan.spot import SpotPlan, plan_spot, plan_spot_for
from mlcost.plan.tco import (
    TcoOption,
    TcoPlan,
    TokenBreakEven,
    api_comparison,
    plan_tco,
    token_break_even,
    versus_api,
)

__all__ = [
    "PRESETS",
    "Fit",
    "GpuPlan",
    "GpuRequest",
    "MemoryEstimate",
    "MemoryRequest",
    "ModelSpec",
    "SpotPlan",
    "SpotRequest",
    "TcoOption",
    "TcoPlan",
    "TcoRequest",
    "TokenBreakEven",
    "api_comparison",
    "cheapest_fit",
    "estimate_memory",
    "model_from_config",
    "model_spec",
    "plan_spot",
    "plan_spot_for",
    "plan_tco",
    "preset",
    "token_break_even",
    "train_flops",
    "versus_api",
]
