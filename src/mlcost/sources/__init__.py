"""Readers of users' files. Each format is one module, registered here by name.

A source module exposes ``NAME``, ``DESCRIPTION``, ``detect(path) -> bool`` and
``ingest(warehouse, paths, **options)``. The CLI lists :data:`REGISTRY`; nothing dispatches on
``if provider == ...``. :func:`ingest_auto` asks each file-reading source's ``detect`` in
registry order (bills first, so that links resolve) and loads each group of files with the
source that claimed it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mlcost.errors import NotFound

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse


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
    "aws-cur": SourceEntry(
        "aws-cur",
        "mlcost.sources.aws_cur",
        "AWS Cost and Usage Report, legacy CSV or CUR 2.0 Parquet → FOCUS rows",
    ),
    "azure": SourceEntry(
        "azure", "mlcost.sources.azure", "Azure cost details exports (EA, MCA) → FOCUS rows"
    ),
    "gcp": SourceEntry(
        "gcp",
        "mlcost.sources.gcp",
        "GCP billing export (BigQuery schema) as CSV or newline JSON → FOCUS rows",
    ),
    "oci": SourceEntry("oci", "mlcost.sources.oci", "Oracle Cloud cost reports (CSV) → FOCUS rows"),
    "nvidia-smi": SourceEntry(
        "nvidia-smi",
        "mlcost.sources.nvidia_smi",
        "nvidia-smi --query-gpu --format=csv logs, one per host → gpu_samples",
    ),
    "prometheus": SourceEntry(
        "prometheus",
        "mlcost.sources.prometheus",
        "DCGM-exporter metrics from Prometheus query_range (--url) or OpenMetrics files",
    ),
    "tracker": SourceEntry(
        "tracker",
        "mlcost.sources.tracker",
        "mlcost tracker spool (JSON lines: runs, GPU samples, cache stats) → workloads",
    ),
    "slurm": SourceEntry(
        "slurm", "mlcost.sources.slurm", "Slurm sacct --parsable2 output (gres/gpu) → workloads"
    ),
    "mlflow": SourceEntry(
        "mlflow",
        "mlcost.sources.mlflow",
        "MLflow tracking store runs (experiments, params, metrics, tags) → workloads",
    ),
    "served": SourceEntry(
        "served",
        "mlcost.sources.served",
        "Inference served volume per endpoint (requests, tokens): CSV or Prometheus counters",
    ),
    "opencost": SourceEntry(
        "opencost",
        "mlcost.sources.opencost",
        "OpenCost /allocation (aggregate=pod|container), saved JSON or --url → workloads",
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


def detect_source(path: Path) -> str | None:
    """The name of the first registered source whose ``detect`` claims ``path``."""
    for entry in REGISTRY.values():
        module = entry.load()
        if getattr(module, "detect", None) and module.detect(path):
            return entry.name
    return None


def ingest_auto(warehouse: Warehouse, paths: Iterable[str | Path]) -> list[Any]:
    """Load every file under ``paths`` with the source that recognizes it, bills first.

    Raises :class:`~mlcost.errors.InvalidInput` naming the files no source recognizes,
    before anything is loaded. Returns one result per source, in registry order.
    """
    from mlcost.errors import InvalidInput

    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInput("no such file or directory", file=path)
    groups: dict[str, list[Path]] = {}
    unknown: list[Path] = []
    for f in files:
        if f.name.startswith(".") or f.name.endswith(".tmp") or f.name in _NOT_DATA:
            continue
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
    results = []
    for name in REGISTRY:
        if name in groups:
            results.append(REGISTRY[name].load().ingest(warehouse, groups[name]))
    return results


# Files a demo or export folder holds beside the data: not inputs.
_NOT_DATA = frozenset({"manifest.json", "ground_truth.json", "README.md", "SHA256SUMS"})

__all__ = ["REGISTRY", "SourceEntry", "detect_source", "get_source", "ingest_auto"]
