"""The source registry is built from each module's own description."""

from __future__ import annotations

import importlib
import json
import pkgutil

from click.testing import CliRunner

import mlcost.sources
from mlcost.cli.main import cli as main
from mlcost.sources import REGISTRY, Source, get_source


def test_every_module_that_describes_itself_is_registered_in_load_order() -> None:
    described = {}
    for info in pkgutil.iter_modules(mlcost.sources.__path__):
        module = importlib.import_module(f"mlcost.sources.{info.name}")
        if isinstance(getattr(module, "SOURCE", None), Source):
            described[module.SOURCE.name] = module
    assert set(REGISTRY) == set(described)
    assert {"focus", "nvidia-smi", "served"} <= set(REGISTRY)
    stages = [s.stage for s in REGISTRY.values()]
    assert stages == sorted(stages)  # bills before telemetry before workloads
    assert next(iter(REGISTRY)) == "focus"
    for name, module in described.items():
        assert get_source(name).ingest is module.ingest


def test_sources_available_says_what_each_reads_and_writes() -> None:
    out = CliRunner().invoke(main, ["sources", "--available", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["source"]: r for r in json.loads(out.stdout)}
    assert list(rows) == list(REGISTRY)
    assert rows["nvidia-smi"]["writes"] == "gpu_samples"
    assert rows["focus"]["writes"] == "cost_line_items, contract_commitments"
