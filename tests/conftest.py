"""Shared fixtures: the shared data folder and a fresh warehouse file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlcost import Warehouse, open_warehouse

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FOCUS_SAMPLES = SHARED / "data" / "focus-samples"


@pytest.fixture
def wh_url(tmp_path: Path) -> str:
    return f"duckdb://{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def wh(wh_url: str) -> Iterator[Warehouse]:
    with open_warehouse(wh_url) as warehouse:
        yield warehouse


def snapshot(warehouse: Warehouse) -> tuple[object, ...]:
    """Everything a failed ingest must leave unchanged: row counts and a content checksum."""
    items = warehouse.table("cost_line_items")
    ingests = warehouse.table("ingests")
    checksum = items.EffectiveCost.sum().execute() if items.count().execute() else None
    return (
        items.count().execute(),
        checksum,
        ingests.count().execute(),
        tuple(items.columns),
    )
