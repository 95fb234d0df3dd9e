"""The core set on every engine: FOCUS ingest, idempotency, restatement, spend, bad input,
and attribution with showback on the demo organization.

Each case runs on DuckDB and on local-mode PySpark (``engine_url``); the expected figures
are computed from the files themselves, and side-by-side tests require the two engines to
give the same answers to the cent.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost import Warehouse, ingest_focus, open_warehouse, spend
from mlcost.attribution import Showback, showback
from mlcost.attribution.allocate import SPLIT_METRICS, month_window
from mlcost.attribution.showback import AMOUNTS, UNALLOCATED
from mlcost.demo._config import demo_attribution
from mlcost.errors import BadValue
from mlcost.sources import ingest_auto
from mlcost.sources.focus import IngestResult
from mlcost.testing import write_focus_file
from mlcost.warehouse import SparkWarehouse
from tests.conftest import snapshot, spark_url

TEAM = "tag:team|Team|team_name"
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def demo_dir(demo_root: Path) -> Path:
    return demo_root / "billing"


Loaded = tuple[str, IngestResult]  # a warehouse URL and what loading the demo bills did


def _load(url: str, billing: Path) -> Loaded:
    with open_warehouse(url) as wh:
        return url, ingest_focus(wh, [billing])


@pytest.fixture(scope="module")
def demo_duckdb(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return _load(f"duckdb://{tmp_path_factory.mktemp('duck') / 'w.duckdb'}", demo_dir)


@pytest.fixture(scope="module")
def demo_spark(demo_dir: Path, spark_dir: Path) -> Loaded:
    return _load(spark_url(spark_dir), demo_dir)


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def demo_loaded(request: pytest.FixtureRequest) -> Loaded:
    """The tiny demo organization's bills (3 providers, 3 FOCUS versions), loaded once."""
    loaded: Loaded = request.getfixturevalue(f"demo_{request.param}")
    return loaded


@pytest.fixture
def demo(demo_loaded: Loaded) -> Iterator[tuple[Warehouse, IngestResult]]:
    url, result = demo_loaded
    with open_warehouse(url) as wh:
        yield wh, result


def _csv_rows(billing: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted(billing.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows += [r for r in csv.DictReader(fh) if any(r.values())]
    return rows


def _expected(billing: Path, key: str) -> dict[tuple[str | None, str], Decimal]:
    """EffectiveCost per (key, currency) straight from the CSV text; key is a column or TEAM."""
    totals: dict[tuple[str | None, str], Decimal] = defaultdict(Decimal)
    for r in _csv_rows(billing):
        if r["ChargeCategory"] == "Purchase" and r.get("CommitmentDiscountId"):
            continue  # amortized onto usage rows
        if key == TEAM:
            tags = json.loads(r["Tags"]) if r.get("Tags") else {}
            value = next((tags[k] for k in ("team", "Team", "team_name") if k in tags), None)
        else:
            value = r[key] or None
        totals[(value, r["BillingCurrency"])] += Decimal(r["EffectiveCost"] or 0)
    return dict(totals)


def _spend(wh: Warehouse, by: list[str], metric: str = "EffectiveCost") -> dict[tuple, Decimal]:
    rows = spend(wh, by=by, metric=metric).to_pyarrow().to_pylist()
    return {(*(r[d] for d in by), r["BillingCurrency"]): r[metric] for r in rows}


# -- FOCUS ingest and spend on the demo organization ---------------------------------------
def test_demo_bills_load_whole_and_spend_matches_the_files(
    demo: tuple[Warehouse, IngestResult], demo_dir: Path
) -> None:
    wh, result = demo
    rows = _csv_rows(demo_dir)
    assert result.rows == len(rows) and not result.already_loaded
    assert result.focus_versions == ("1.0", "1.2", "1.3")
    assert set(result.billing_accounts) == {r["BillingAccountId"] for r in rows}
    assert result.billing_periods == (datetime(2026, 5, 1),)
    for key in ("BillingAccountId", TEAM):
        assert _spend(wh, [key]) == _expected(demo_dir, key), key
    assert result.effective_cost == {"USD": sum(_expected(demo_dir, "BillingAccountId").values())}


def test_loading_the_same_bills_again_changes_nothing(
    demo: tuple[Warehouse, IngestResult], demo_dir: Path
) -> None:
    wh, first = demo
    before = snapshot(wh)
    again = ingest_focus(wh, [demo_dir])
    assert again.already_loaded and again.ingest_id == first.ingest_id
    assert snapshot(wh) == before


# -- restatement ---------------------------------------------------------------------------
def test_a_restatement_replaces_exactly_its_account_and_period(
    engine_url: str, tmp_path: Path
) -> None:
    may, june = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    files = {
        ("A", 5): write_focus_file(tmp_path / "a-may.parquet", 100, account="A", period=may),
        ("A", 6): write_focus_file(tmp_path / "a-jun.parquet", 10, account="A", period=june),
        ("B", 5): write_focus_file(tmp_path / "b-may.csv", 30, account="B", period=may),
    }
    cost = lambda n, scale=1: sum(Decimal(i % 1000) / 100 * scale for i in range(n))  # noqa: E731
    with open_warehouse(engine_url) as wh:
        for path in files.values():
            ingest_focus(wh, [path])
        before = _partition_files(wh)
        # The provider re-issues account A's May bill: fewer rows, costs doubled.
        restated = write_focus_file(
            tmp_path / "a-may-v2.parquet", 40, account="A", period=may, cost_scale=2
        )
        result = ingest_focus(wh, [restated])
        assert (result.rows, result.rows_replaced) == (40, 100)
        after = _partition_files(wh)
        if wh.engine == "spark":  # one partition per (period, account); only A's May rewritten
            a_may = "BillingPeriodStart=2026-05-01 00%3A00%3A00/BillingAccountId=A"
            assert set(before) == set(after) and len(after) == 3
            assert {p for p in after if after[p] != before[p]} == {a_may}
        got = {
            (account, period.month): amount
            for (account, period, _), amount in _spend(
                wh, ["BillingAccountId", "BillingPeriodStart"]
            ).items()
        }
        assert got == {("A", 5): cost(40, 2), ("A", 6): cost(10), ("B", 5): cost(30)}
        # The replaced export, loaded again, is a no-op: the latest distinct export wins.
        assert ingest_focus(wh, [files[("A", 5)]]).already_loaded


def _partition_files(wh: Warehouse) -> dict[str, set[str]]:
    """Data files per partition folder of a Spark cost_line_items table; {} for DuckDB."""
    if not isinstance(wh, SparkWarehouse):
        return {}
    assert wh.settings.warehouse_dir is not None
    root = Path(wh.settings.warehouse_dir) / f"{wh.settings.database}.db" / "cost_line_items"
    files = [p for p in root.rglob("*.parquet") if not p.name.startswith(".")]
    grouped: dict[str, set[str]] = defaultdict(set)
    for f in files:
        grouped[str(f.parent.relative_to(root))].add(f.name)
    return dict(grouped)


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("EffectiveCost", "12,50", "'12,50' is not a valid number"),
        ("ChargePeriodStart", "05/01/2026 10am", "is not a valid timestamp"),
        ("Tags", '["team", "search"]', "is not a JSON object"),
        ("BilledCost", "", "is empty, but mlcost needs a value here"),
    ],
)
def test_bad_input_names_file_row_column_and_changes_nothing(
    engine_url: str, tmp_path: Path, column: str, value: str, message: str
) -> None:
    good = write_focus_file(tmp_path / "good.parquet", 20, account="keep")
    bad = write_focus_file(tmp_path / "bad.csv", 6, account="bad")
    with bad.open(newline="") as fh:
        records = list(csv.reader(fh))
    records[4][records[0].index(column)] = value  # the fourth data row
    with bad.open("w", newline="") as fh:
        csv.writer(fh).writerows(records)
    with open_warehouse(engine_url) as wh:
        ingest_focus(wh, [good])
        before = snapshot(wh)
        with pytest.raises(BadValue) as info:
            ingest_focus(wh, [bad])
        assert (info.value.file, info.value.row, info.value.column) == (str(bad), 4, column)
        assert message in str(info.value)
        assert snapshot(wh) == before


# -- the two engines side by side ------------------------------------------------------------
@pytest.mark.spark
def test_spark_and_duckdb_give_the_same_spend_to_the_cent(
    demo_duckdb: Loaded, demo_spark: Loaded
) -> None:
    (duck_at, duck_result), (spark_at, spark_result) = demo_duckdb, demo_spark
    with open_warehouse(duck_at, read_only=True) as duck, open_warehouse(spark_at) as spark:
        _same_spend(duck, spark)
    assert spark_result.effective_cost == duck_result.effective_cost
    assert (spark_result.rows, spark_result.billing_accounts) == (
        duck_result.rows,
        duck_result.billing_accounts,
    )


def _same_spend(duck: Warehouse, spark: Warehouse) -> None:
    reports = [
        (["ServiceProviderName"], "EffectiveCost"),
        ([TEAM, "ServiceName"], "EffectiveCost"),
        (["BillingAccountId", "ChargePeriodStart"], "BilledCost"),  # hourly: time zones agree
        (["x_GpuModel", "x_InstanceType"], "ListCost"),  # filled from the catalog
        (["SubAccountId", "ChargeCategory"], "ContractedCost"),
    ]
    for by, metric in reports:
        on_duck, on_spark = _spend(duck, by, metric), _spend(spark, by, metric)
        assert on_spark == on_duck, (by, metric)  # exact decimals, so equal to the cent
        cents = {k: v.quantize(CENT) for k, v in on_duck.items()}
        assert cents == {k: v.quantize(CENT) for k, v in on_spark.items()}
        assert len(on_duck) > 1


def test_the_spend_command_reads_either_engine(demo_loaded: Loaded) -> None:
    from click.testing import CliRunner

    from mlcost.cli.main import cli

    url, _ = demo_loaded
    args = ["--warehouse", url, "spend", "--by", "ServiceProviderName", "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    got = {
        (r["ServiceProviderName"], r["BillingCurrency"]): Decimal(str(r["EffectiveCost"]))
        for r in json.loads(result.output)
    }
    with open_warehouse(url, read_only=True) as wh:
        want = _spend(wh, ["ServiceProviderName"])
    assert {k: v.quantize(CENT) for k, v in got.items()} == {
        k: v.quantize(CENT) for k, v in want.items()
    }


# -- attribution and showback on the demo organization ---------------------------------------
MONTH = "2026-05"
Attributed = tuple[str, Showback]


def _attribute(url: str, root: Path) -> Attributed:
    """Everything of the demo organization loaded, and its month allocated to teams."""
    with open_warehouse(url) as wh:
        ingest_focus(wh, [root / "billing"])
        loaded = ingest_auto(wh, [root / "telemetry", root / "workloads"])
        assert {r.source for r in loaded} == {
            "nvidia-smi",
            "prometheus",
            "tracker",
            "slurm",
            "opencost",
            "serving-metrics",  # the demo's vLLM counters (issue 25)
        }
        return url, showback(wh, demo_attribution(), MONTH)


@pytest.fixture(scope="module")
def attributed_duckdb(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Attributed:
    return _attribute(f"duckdb://{tmp_path_factory.mktemp('duck') / 'a.duckdb'}", demo_root)


@pytest.fixture(scope="module")
def attributed_spark(demo_root: Path, spark_dir: Path) -> Attributed:
    return _attribute(spark_url(spark_dir), demo_root)


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def attributed(request: pytest.FixtureRequest) -> Attributed:
    found: Attributed = request.getfixturevalue(f"attributed_{request.param}")
    return found


def test_showback_invariants_hold_on_the_demo_organization(attributed: Attributed) -> None:
    url, sb = attributed
    start, end = month_window(MONTH)
    # The statements add up to the bill, per metric, to the cent (exactly, in fact).
    rec = sb.reconciliation
    assert rec.balanced and rec.effective[0] == rec.effective[1] and rec.billed[0] == rec.billed[1]
    assert sum(s.total for s in sb.statements) == rec.effective[0] > 0
    assert sum(s.billed for s in sb.statements) == rec.billed[0]
    # Every dollar has an owner or sits in the explicit unallocated statement, shown last.
    owners = [s.owner for s in sb.statements]
    assert owners[-1] == UNALLOCATED and len(set(owners)) == len(owners) > 3
    for s in sb.statements:
        assert s.total == s.direct + s.shared + s.unallocated, s.owner
    with open_warehouse(url, read_only=True) as wh:
        bill = wh.table("cost_line_items")
        bill = bill.filter((bill.ChargePeriodStart >= start) & (bill.ChargePeriodStart < end))
        alloc = wh.table("allocated_costs")
        # Every summable metric of the allocated rows adds up to the bill's, exactly.
        for metric in SPLIT_METRICS:
            assert alloc[metric].sum().execute() == bill[metric].sum().execute(), metric
        # Every origin charge is in the split, and every row is owned or unallocated.
        assert alloc.x_OriginRow.nunique().execute() == bill.count().execute()
        buckets = set(alloc.x_Bucket.to_pyarrow().to_pylist())
        assert {"direct", "gpu_used", "gpu_idle", "shared"} <= buckets
        unowned = alloc.filter(alloc.x_Owner.isnull()).EffectiveCost.sum().execute()
    assert sb.statements[-1].total == unowned


@pytest.mark.spark
def test_spark_and_duckdb_give_the_same_showback_to_the_cent(
    attributed_duckdb: Attributed, attributed_spark: Attributed
) -> None:
    (_, duck), (_, spark) = attributed_duckdb, attributed_spark
    assert spark.reconciliation == duck.reconciliation
    assert [s.owner for s in spark.statements] == [s.owner for s in duck.statements]
    for a, b in zip(duck.statements, spark.statements, strict=True):
        for amount in AMOUNTS:
            got, want = getattr(b, amount), getattr(a, amount)
            assert got.quantize(CENT) == want.quantize(CENT), (a.owner, amount)
        assert b.gpu_hours == pytest.approx(a.gpu_hours, abs=1e-6)
        assert b.coverage == pytest.approx(a.coverage, abs=1e-9)
        cents = lambda d: {k: v.quantize(CENT) for k, v in d.items()}  # noqa: E731
        assert cents(b.by_workload_type) == cents(a.by_workload_type), a.owner
        assert cents(b.by_model) == cents(a.by_model), a.owner
