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
    "MlcostError": "mlcost.errors",
    "Settings": "mlcost.config",
    "Warehouse": "mlcost.warehouse",
    "generate_demo": "mlcost.demo",
    "ingest_focus": "mlcost.sources.focus",
    "load_settings": "mlcost.config",
    "open_warehouse": "mlcost.warehouse",
    "spend": "mlcost.spend",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from mlcost.config import Settings, load_settings
    from mlcost.demo import generate_demo
    from mlcost.errors import MlcostError
    from mlcost.sources.focus import IngestResult, ingest_focus
    from mlcost.spend import spend
    from mlcost.warehouse import Warehouse, open_warehouse


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlcost' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
