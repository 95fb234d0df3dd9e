"""FOCUS 1.3 export of the allocated costs."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlcost import Warehouse
from mlcost.attribution import allocate, export_focus, focus_columns, month_window
from mlcost.config import AttributionConfig
from mlcost.errors import NotFound
from tests.attribution.conftest import MONTH, line, put


def test_parquet_has_the_13_columns_and_ours(wh: Warehouse, tmp_path: Path) -> None:
    # A GPU hour (no telemetry: unmeasured) and a storage charge, exported after allocation.
    put(wh, "cost_line_items", [line("2.00", resource="g", gpus=1), line("1.00", resource="s")])
    allocate(wh, AttributionConfig(), *month_window(MONTH))
    out = tmp_path / "focus.parquet"
    assert export_focus(wh, out, month=MONTH) == 2
    table = pq.read_table(out)
    names = table.column_names
    assert names[: len(focus_columns("1.3"))] == focus_columns("1.3")
    assert {"ProviderName", "PublisherName", "x_Bucket", "x_Owner"} <= set(names)
    assert "CommitmentProgramEligibilityDetails" not in names  # FOCUS 1.4 only
    assert table.column("ChargePeriodStart").to_pylist()[0] == "2026-10-01T00:00:00Z"


def test_other_versions_are_refused_clearly(wh: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"FOCUS 1.4 export is not supported. Choose 1.3"):
        export_focus(wh, tmp_path / "x.csv", version="1.4")
