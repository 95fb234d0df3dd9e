"""One demo organization for the report tests: 38 days from 2026-05-01 (ISO weeks 18 to 23,
W18 partial, W19-W23 complete), ingested once, allocated once by the first report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mlcost import Warehouse, ingest_focus, open_warehouse
from mlcost.config import AttributionConfig, BudgetConfig
from mlcost.demo import generate_demo
from mlcost.demo._config import DEMO_CONFIG_TOML, demo_attribution, demo_budgets
from mlcost.insights import run_insights, save_findings
from mlcost.report import WeeklyReport, weekly_report
from mlcost.sources import ingest_auto


@dataclass(frozen=True)
class Demo:
    folder: Path
    url: str
    config: AttributionConfig
    budgets: tuple[BudgetConfig, ...]
    report: WeeklyReport  # the whole organization, default week

    def open(self) -> Warehouse:
        return open_warehouse(self.url)

    def toml(self, extra: str = "") -> str:
        """The demo's mlcost.toml pointing at the shared warehouse, plus ``extra`` tables."""
        body = DEMO_CONFIG_TOML.replace(
            'warehouse = "warehouse.duckdb"', f'warehouse = "{self.folder / "warehouse.duckdb"}"'
        )
        return body + "\n" + extra


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("report-demo")
    generate_demo(folder, days=38, scale=0.3)
    url = f"duckdb://{folder / 'warehouse.duckdb'}"
    config = demo_attribution()
    budgets, _ = demo_budgets(folder)
    with open_warehouse(url) as wh:
        ingest_focus(wh, sorted((folder / "billing").glob("*.csv")))
        ingest_auto(wh, [folder / "telemetry", folder / "workloads"])
        save_findings(wh, run_insights(wh, config))  # as `mlcost demo` / `mlcost insights` do
        report = weekly_report(wh, config, budgets=budgets)
    return Demo(folder, url, config, budgets, report)
