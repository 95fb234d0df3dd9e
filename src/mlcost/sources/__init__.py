"""Readers of users' files. Each format is one module that describes itself.

A source module ends with ``SOURCE = Source(...)`` (see :class:`~mlcost.sources._common.Source`):
its name, what it reads, the tables it writes, ``ingest(warehouse, paths, **options)`` and,
for file formats, ``detect(path) -> bool``. :data:`REGISTRY` is built from those descriptions
by importing each public module of this package; nothing dispatches on ``if provider == ...``.
:func:`ingest_auto` walks the paths once, asks each file-reading source's ``detect`` in
registry order (bills first, so that links resolve) and loads each group of files with the
source that claimed it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import NotFound
from mlcost.sources._common import LoadResult, Source, expand_files

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse


@lru_cache(maxsize=1)
def registry() -> dict[str, Source]:
    """Every source module's ``SOURCE``, by name, in load order (bills, telemetry, workloads)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        source = getattr(module, "SOURCE", None)
        if isinstance(source, Source):
            found.append(source)
    return {s.name: s for s in sorted(found, key=lambda s: (s.stage, s.name))}


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":  # built on first use: importing it imports every source module
        return registry()
    raise AttributeError(name)


def get_source(name: str) -> Source:
    sources = registry()
    try:
        return sources[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, sources, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise NotFound(
            f"No source named {name!r}.{hint} Known: {', '.join(sorted(sources))}."
        ) from None


def detect_source(path: Path) -> str | None:
    """The name of the first registered source whose ``detect`` claims ``path``."""
    for source in registry().values():
        if source.detect is not None and source.detect(path):
            return source.name
    return None


def ingest_auto(warehouse: Warehouse, paths: Iterable[str | Path]) -> list[LoadResult]:
    """Load every file under ``paths`` with the source that recognizes it, bills first.

    Raises :class:`~mlcost.errors.InvalidInput` naming the files no source recognizes,
    before anything is loaded. Returns one result per source, in registry order.
    """
    from mlcost.errors import InvalidInput

    groups: dict[str, list[Path]] = {}
    unknown: list[Path] = []
    for f in expand_files(paths, None, "exports and logs"):
        name = detect_source(f)
        if name is None:
            unknown.append(f)
        else:
            groups.setdefault(name, []).append(f)
    if unknown:
        raise InvalidInput(
            f"no source recognizes {len(unknown)} file(s): "
            + ", ".join(str(p) for p in unknown[:5]),
            file=unknown[0],
            fix="Load them with an explicit source (mlcost ingest <source> FILE); "
            "see mlcost sources --available.",
        )
    return [
        source.ingest(warehouse, groups[name])
        for name, source in registry().items()
        if name in groups
    ]


__all__ = ["REGISTRY", "Source", "detect_source", "get_source", "ingest_auto", "registry"]
