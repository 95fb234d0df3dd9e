"""Fixtures shared by the engine tests (tests/warehouse)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcost.demo import generate_demo


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo organization (2 days, scale 0.2): bills, GPU telemetry, Slurm /
    OpenCost / tracker records. Read only: the engine tests load it, none writes into it."""
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, days=2, scale=0.2)
    return out
