"""Readers of users' files. Each format is one module, registered here by name.

A source module exposes ``NAME``, ``DESCRIPTION``, ``detect(path) -> bool`` and
``ingest(warehouse, paths, **options)``. The CLI lists :data:`REGISTRY`; nothing dispatches on
``if provider == ...``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from mlcost.errors import NotFound


@dataclass(frozen=True)
class SourceEntry:
    name: str
    module: str
    description: str

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


REGISTRY: dict[str, SourceEntry] = {
    "focus": SourceEntry(
        "focus",
        "mlcost.sources.focus",
        "FOCUS 1.0–1.4 Cost and Usage (and ContractCommitment) exports: CSV, CSV.gz, Parquet",
    ),
}


def get_source(name: str) -> SourceEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise NotFound(
            f"No source named {name!r}.{hint} Known: {', '.join(sorted(REGISTRY))}."
        ) from None


__all__ = ["REGISTRY", "SourceEntry", "get_source"]
