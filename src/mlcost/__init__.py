"""mlcost: make the cost of machine learning visible and smaller.

``import mlcost`` is cheap and has no side effects: it reads no file, sets nothing and starts
nothing. Public names are imported on first use.

    >>> import mlcost
    >>> "spend" in mlcost.__all__
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it. Kept sorted; a test pins it.
_EXPORTS: dict[str, str] = {
    "IngestResult": "mlcost.sources.focus",
    "MemoryEstimate": "mlcost.plan.memory",
    "MlcostError": "mlcost.errors",
    "ModelIdentity": "mlcost.cache",
    "PredictionCache": "mlcost.cache",
    "SemanticCache": "mlcost.cache",
    "Settings": "mlcost.config",
    "StopRule": "mlcost.runtime",
    "Warehouse": "mlcost.warehouse",
    "allocate": "mlcost.attribution",
    "audit_tags": "mlcost.attribution",
    "drill_down": "mlcost.attribution",
    "estimate_memory": "mlcost.plan.memory",
    "export_focus": "mlcost.attribution",
    "generate_demo": "mlcost.demo",
    "gpu_spec": "mlcost.catalog",
    "hourly_price": "mlcost.catalog",
    "ingest_focus": "mlcost.sources.focus",
    "latest_checkpoint": "mlcost.runtime",
    "list_gpus": "mlcost.catalog",
    "load_settings": "mlcost.config",
    "on_interruption": "mlcost.runtime",
    "open_warehouse": "mlcost.warehouse",
    "pareto": "mlcost.plan.pareto",
    "plan_spot": "mlcost.plan.spot",
    "plan_tco": "mlcost.plan.tco",
    "plan_workers": "mlcost.plan.batch",
    "showback": "mlcost.attribution",
    "spend": "mlcost.spending",
    "track": "mlcost.runtime",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from mlcost.attribution import allocate as allocate
    from mlcost.attribution import audit_tags as audit_tags
    from mlcost.attribution import drill_down as drill_down
    from mlcost.attribution import export_focus as export_focus
    from mlcost.attribution import showback as showback
    from mlcost.cache import ModelIdentity as ModelIdentity
    from mlcost.cache import PredictionCache as PredictionCache
    from mlcost.cache import SemanticCache as SemanticCache
    from mlcost.catalog import gpu_spec as gpu_spec
    from mlcost.catalog import hourly_price as hourly_price
    from mlcost.catalog import list_gpus as list_gpus
    from mlcost.config import Settings as Settings
    from mlcost.config import load_settings as load_settings
    from mlcost.demo import generate_demo as generate_demo
    from mlcost.errors import MlcostError as MlcostError
    from mlcost.plan.batch import plan_workers as plan_workers
    from mlcost.plan.memory import MemoryEstimate as MemoryEstimate
    from mlcost.plan.memory import estimate_memory as estimate_memory
    from mlcost.plan.pareto import pareto as pareto
    from mlcost.plan.spot import plan_spot as plan_spot
    from mlcost.plan.tco import plan_tco as plan_tco
    from mlcost.runtime import StopRule as StopRule
    from mlcost.runtime import latest_checkpoint as latest_checkpoint
    from mlcost.runtime import on_interruption as on_interruption
    from mlcost.runtime import track as track
    from mlcost.sources.focus import IngestResult as IngestResult
    from mlcost.sources.focus import ingest_focus as ingest_focus
    from mlcost.spending import spend as spend
    from mlcost.warehouse import Warehouse as Warehouse
    from mlcost.warehouse import open_warehouse as open_warehouse


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlcost' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
