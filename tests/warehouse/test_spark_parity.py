"""The demo organization through the pipeline on DuckDB and on local Spark: the same answers.

Each engine loads the same tiny demo organization (bills, GPU telemetry, Slurm / OpenCost /
tracker records), builds its month's showback, runs every insight detector and reads the
demo's budgets; the two must agree on showback to the cent, on the findings (ids, kinds,
resources, owners, savings to the cent) and on the budget statuses.

Findings are stored and read back (``save_findings`` → ``load_findings``) on an engine whose
warehouse can keep them (keyed upsert and update where), else taken as computed
(``insights_run``): ``_findings`` picks by the engine's capabilities, so the test follows
the stored path as soon as the Spark warehouse gains those operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost import ingest_focus, open_warehouse
from mlcost.attribution import Showback, showback
from mlcost.attribution.showback import AMOUNTS
from mlcost.budgets import BudgetStatus, statuses
from mlcost.demo._config import demo_attribution, demo_budgets
from mlcost.insights import (
    Finding,
    FindingStore,
    InsightsRun,
    insights_run,
    load_findings,
    save_findings,
)
from mlcost.sources import ingest_auto
from mlcost.warehouse import Warehouse
from tests.conftest import spark_url

pytestmark = pytest.mark.spark

MONTH = "2026-05"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Answers:
    """What one engine answered for the demo organization."""

    showback: Showback
    run: InsightsRun
    findings: list[Finding]
    stored: bool  # the findings went through the recommendations table
    budgets: list[BudgetStatus]


def _findings(wh: Warehouse, run: InsightsRun) -> tuple[list[Finding], bool]:
    """The findings as a reader sees them: stored and loaded back where the engine keeps
    them, else as computed."""
    if FindingStore.unavailable(wh) is not None:
        return run.findings, False
    save_findings(wh, run.findings, ran=run.ran)
    return load_findings(wh, demo_attribution()), True


def _answers(url: str, root: Path) -> Answers:
    config = demo_attribution()
    with open_warehouse(url) as wh:
        ingest_focus(wh, [root / "billing"])
        ingest_auto(wh, [root / "telemetry", root / "workloads"])
        sb = showback(wh, config, MONTH)
        run = insights_run(wh, config)
        found, stored = _findings(wh, run)
        budgets, _ = demo_budgets(root)
        return Answers(sb, run, found, stored, statuses(wh, budgets, attribution=config))


@pytest.fixture(scope="module")
def duck(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Answers:
    return _answers(f"duckdb://{tmp_path_factory.mktemp('duck') / 'w.duckdb'}", demo_root)


@pytest.fixture(scope="module")
def spark(demo_root: Path, spark_dir: Path) -> Answers:
    return _answers(spark_url(spark_dir), demo_root)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


def test_showback_is_the_same_to_the_cent(duck: Answers, spark: Answers) -> None:
    a, b = duck.showback, spark.showback
    assert b.reconciliation == a.reconciliation and a.reconciliation.balanced
    assert [s.owner for s in b.statements] == [s.owner for s in a.statements]
    for x, y in zip(a.statements, b.statements, strict=True):
        for amount in AMOUNTS:
            assert _cents(getattr(y, amount)) == _cents(getattr(x, amount)), (x.owner, amount)


def test_every_detector_runs_and_finds_the_same_on_both(duck: Answers, spark: Answers) -> None:
    # Every detector had its input on both engines: nothing skipped, the same window.
    assert spark.run.ran == duck.run.ran and len(duck.run.ran) == 10
    assert spark.run.skipped == duck.run.skipped == {}
    assert spark.run.window == duck.run.window is not None

    def key(f: Finding) -> tuple[object, ...]:
        s = f.monthly_saving
        return (
            f.id,
            f.kind,
            f.resource_id,
            f.resource_name,
            f.owner,
            s.currency,
            _cents(s.low),
            _cents(s.expected),
            _cents(s.high),
            f.confidence,
        )

    want = [key(f) for f in duck.findings]
    # The demo plants waste of most kinds: a run that found almost nothing proves little.
    assert len({f.kind for f in duck.findings}) >= 8
    assert [key(f) for f in spark.findings] == want
    # The evidence that redoes each saving by hand is the same too.
    assert [f.evidence for f in spark.findings] == [f.evidence for f in duck.findings]


def test_budget_statuses_are_the_same(duck: Answers, spark: Answers) -> None:
    def key(s: BudgetStatus) -> tuple[object, ...]:
        f = s.forecast
        rounded = [None if v is None else round(v, 2) for v in (f.total, f.low, f.high)]
        crossed = [(c.kind, c.threshold, _cents(c.amount)) for c in s.crossed]
        return (s.budget.name, s.period_start, _cents(s.spent), s.currency, rounded, crossed)

    assert duck.budgets and [key(s) for s in spark.budgets] == [key(s) for s in duck.budgets]
    assert any(s.spent > 0 for s in duck.budgets)
