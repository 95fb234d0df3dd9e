"""What the pipeline stores beyond loads, on Spark: every table of the DuckDB schema, row
writes, keyed upserts and updates (small tables rewritten whole through a stage), the daily
rollup, native bills, budgets with their alerts and deliveries, and the guardrail audit.

The demo organization is built once on DuckDB by the real pipeline (ingest, telemetry,
attribution); its tables are then copied into a Spark database through the warehouse's own
``insert_arrow``, so budgets and guardrails run on Spark over the same rows and must give
the same answers (ingest and attribution parity on the demo is
``tests/warehouse/test_engines.py``'s, and takes minutes on ``local[2]``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlcost import Warehouse, ingest_focus, open_warehouse, spend
from mlcost.attribution import showback
from mlcost.budgets import evaluate
from mlcost.config import parse_budgets
from mlcost.demo import generate_demo
from mlcost.demo._config import DEMO_CONFIG_TOML, demo_attribution, demo_budgets, demo_policies
from mlcost.errors import WarehouseError
from mlcost.notify import recorded_alerts
from mlcost.policies import enforce, exempt
from mlcost.sources import aws_cur, azure, ingest_auto, oci
from mlcost.testing import write_focus_file
from mlcost.warehouse._spark_schema import PARTITION_BY, duckdb_schema
from tests.conftest import FOCUS_SAMPLES, spark_url
from tests.warehouse.test_rollup import LINE_ITEM_QUESTIONS, ROLLUP_QUESTIONS, reads, rows

pytestmark = pytest.mark.spark

MONTH = "2026-05"
# Besides the demo's (team budgets of thousands), two that the demo's spend crosses, actual and
# forecast: one over an owner of the owner model, one over a tag of the line items.
SMALL = parse_budgets(
    {
        "vision-small": {"scope": {"owner": "vision"}, "amount": 1, "currency": "USD"},
        "team-search": {"scope": {"team": "search"}, "amount": 1, "currency": "USD"},
    }
)
# What the demo's budgets and guardrails read, copied from DuckDB into Spark.
COPIED = ("cost_line_items", "allocated_costs", "ingests", "workloads", "gpu_samples")


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, days=8, scale=0.2)  # a week and a day: budgets forecast from a week
    return out


@pytest.fixture(scope="module")
def duck_url(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo organization loaded and its month attributed, on DuckDB."""
    url = f"duckdb://{tmp_path_factory.mktemp('duck') / 'w.duckdb'}"
    with open_warehouse(url) as wh:
        ingest_focus(wh, [demo_root / "billing"])
        ingest_auto(wh, [demo_root / "telemetry", demo_root / "workloads"])
        showback(wh, demo_attribution(), MONTH)
    return url


@pytest.fixture(scope="module")
def spark_demo(duck_url: str, spark_dir: Path) -> str:
    """The same rows in a Spark database, written by ``insert_arrow`` in one transaction."""
    url = spark_url(spark_dir)
    with (
        open_warehouse(duck_url, read_only=True) as duck,
        open_warehouse(url) as wh,
        wh.transaction(),
    ):
        for table in COPIED:
            wh.insert_arrow(table, duck.table(table).to_pyarrow())
    return url


@pytest.fixture
def spark_wh(spark_dir: Path) -> Iterator[Warehouse]:
    with open_warehouse(spark_url(spark_dir)) as wh:
        yield wh


def _sorted(wh: Warehouse, table: str, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    found = wh.table(table).to_pyarrow().to_pylist()
    return sorted(({k: v for k, v in r.items() if k not in drop} for r in found), key=repr)


# -- the schema --------------------------------------------------------------------------
def test_every_duckdb_table_is_on_spark_with_its_columns(spark_wh: Warehouse) -> None:
    schema = duckdb_schema()
    assert {"alerts", "actions", "policy_marks", "api_tokens", "cost_daily"} <= set(schema)
    assert set(schema) <= set(spark_wh.tables())
    for table, columns in schema.items():
        names = [c for c, _, _ in columns]
        on_spark = spark_wh.columns(table)
        if table in ("cost_line_items", "allocated_costs"):  # partition keys stored last
            names = [c for c in names if c not in PARTITION_BY] + list(PARTITION_BY)
        assert on_spark == names, table


# -- the primitives, side by side with DuckDB ----------------------------------------------
T0 = datetime(2026, 5, 3, 10, 0)


def _alert(key: str, amount: float) -> dict[str, Any]:
    return {
        "alert_key": key,
        "source": "budget",
        "subject": "vision",
        "period_start": date(2026, 5, 1),
        "kind": "actual",
        "threshold": 0.8,
        "amount": amount,
        "limit_amount": 100.0,
        "currency": "USD",
        "message": f"spent {amount}",
        "payload": "{}",
        "created_at": T0,
    }


def _finding(saving: str, seen: datetime) -> dict[str, Any]:
    return {
        "id": "idle-1",
        "kind": "idle_gpu",
        "resource_id": "i-1",
        "saving_expected": Decimal(saving),
        "currency": "USD",
        "evidence": '{"hours": 5}',
        "first_seen": seen,
        "last_seen": seen,
    }


def _exercise(wh: Warehouse) -> list[int]:
    """Each primitive once, as the stores call them; the counts they return."""
    counts = []
    with wh.transaction():
        counts.append(wh.upsert("alerts", [_alert("a", 80.0)], key=("alert_key",)))
        deliveries = [
            {"alert_key": "a", "channel": c, "status": "pending", "attempts": 0}
            for c in ("file", "slack")
        ]
        counts.append(wh.upsert("alert_deliveries", deliveries, key=("alert_key", "channel")))
        counts.append(wh.upsert("recommendations", [_finding("10.5", T0)], key=("id",)))
    with wh.transaction():
        # The same key again: kept as it was (skip), or its update columns replaced.
        counts.append(
            wh.upsert("alerts", [_alert("a", 99.0), _alert("b", 90.0)], key=("alert_key",))
        )
        later = datetime(2026, 5, 4)
        update = ("saving_expected", "last_seen")
        counts.append(
            wh.upsert("recommendations", [_finding("12.25", later)], key=("id",), update=update)
        )
        where = {"alert_key": "a", "channel": "file"}
        values = {"status": "sent", "sent_at": later, "last_error": None}
        counts.append(wh.update_where("alert_deliveries", values, where, increment=("attempts",)))
        counts.append(wh.update_where("alert_deliveries", {}, where, increment=("attempts",)))
        # None in where is IS NULL: the slack row has no last_error yet.
        counts.append(
            wh.update_where(
                "alert_deliveries", {"last_error": "timeout"}, {"channel": "slack", "sent_at": None}
            )
        )
        counts.append(wh.update_where("alert_deliveries", {"status": "x"}, {"channel": "none"}))
        row = {
            "acted_at": T0,
            "actor": "me@host",
            "policy": "idle",
            "resource_id": "i-1",
            "action": "stop",
            "mode": "dry-run",
            "outcome": "would-act",
            "reason": "idle 3 h",
        }
        counts.append(wh.insert_rows("actions", [row, {**row, "resource_id": "i-2"}]))
    return counts


def test_row_writes_upserts_and_updates_round_trip_as_on_duckdb(
    spark_wh: Warehouse, tmp_path: Path
) -> None:
    with open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}") as duck:
        want = _exercise(duck)
        tables = {t: _sorted(duck, t) for t in ("alerts", "alert_deliveries", "actions")}
        finding = _sorted(duck, "recommendations")
    got = _exercise(spark_wh)
    # 1 alert, 2 deliveries, 1 finding; then a: skipped, b: new; the finding updated; ...
    assert got == want == [1, 2, 1, 1, 1, 1, 1, 1, 0, 2]
    for table, expected in tables.items():
        assert _sorted(spark_wh, table) == expected, table
    assert _sorted(spark_wh, "recommendations") == finding
    (stored,) = finding
    assert stored["saving_expected"] == Decimal("12.25") and stored["first_seen"] == T0
    alerts = {r["alert_key"]: r["amount"] for r in tables["alerts"]}
    assert alerts == {"a": 80.0, "b": 90.0}  # the first alert a is kept
    by_channel = {r["channel"]: r for r in tables["alert_deliveries"]}
    assert (by_channel["file"]["status"], by_channel["file"]["attempts"]) == ("sent", 2)
    assert by_channel["slack"]["last_error"] == "timeout"


def _stages(wh: Warehouse) -> list[str]:
    listed = wh._session.catalog.listTables(wh.target.database)  # type: ignore[attr-defined]
    return [t.name for t in listed if t.name.startswith("_mlcost_stage_")]


def test_a_failed_write_leaves_the_table_as_it_was(spark_wh: Warehouse) -> None:
    with spark_wh.transaction():
        spark_wh.upsert("alerts", [_alert("a", 80.0)], key=("alert_key",))
    before = _sorted(spark_wh, "alerts")

    # The transaction fails after its writes: none of them is stored.
    def fails() -> None:
        with spark_wh.transaction():
            spark_wh.upsert("alerts", [_alert("b", 1.0)], key=("alert_key",))
            spark_wh.update_where("alerts", {"amount": 5.0}, {"alert_key": "a"})
            spark_wh.insert_rows("alerts", [_alert("c", 2.0)])
            raise RuntimeError("the evaluation failed")

    with pytest.raises(RuntimeError):
        fails()
    assert _sorted(spark_wh, "alerts") == before

    # A value that does not fit its column names the table, row and column, writes nothing.
    bad = {**_alert("d", 3.0), "threshold": "high"}
    with (
        pytest.raises(WarehouseError, match=r"row 2 of the rows for alerts.*'threshold'"),
        spark_wh.transaction(),
    ):
        spark_wh.upsert("alerts", [_alert("c", 2.0), bad], key=("alert_key",))
    missing = {**_alert("e", 3.0), "message": None}  # NOT NULL in the schema
    with (
        pytest.raises(WarehouseError, match=r"column 'message' cannot be empty"),
        spark_wh.transaction(),
    ):
        spark_wh.insert_rows("alerts", [missing])
    with (
        pytest.raises(WarehouseError, match=r"alerts has no column 'colour'"),
        spark_wh.transaction(),
    ):
        spark_wh.update_where("alerts", {"colour": "red"}, {"alert_key": "a"})
    assert _sorted(spark_wh, "alerts") == before
    assert _stages(spark_wh) == []


# -- the daily rollup ----------------------------------------------------------------------
def test_the_rollup_is_kept_on_spark_through_a_restatement(
    spark_wh: Warehouse, tmp_path: Path
) -> None:
    first = ingest_focus(spark_wh, [write_focus_file(tmp_path / "a.parquet", 400)])
    assert spark_wh.rollup() is not None
    assert spark_wh.table("cost_daily").x_Rows.sum().execute() == 400
    # The account re-issues May at twice the cost: its old rows leave the rollup too.
    restated = write_focus_file(tmp_path / "a2.parquet", 350, cost_scale=2.0)
    result = ingest_focus(spark_wh, [restated])
    assert result.rows_replaced == 400
    daily = spark_wh.table("cost_daily")
    assert daily.x_Rows.sum().execute() == 350  # each line item once, the restated gone
    assert daily.filter(daily.x_IngestId == first.ingest_id).count().execute() == 0
    for by, start, end, metric in ROLLUP_QUESTIONS[:3]:
        fast = spend(spark_wh, by=by, start=start, end=end, metric=metric)
        assert reads(fast) == "cost_daily"
        exact = spend(spark_wh, by=by, start=start, end=end, metric=metric, rollup=False)
        assert rows(fast) == rows(exact), (by, start, end, metric)
    (tag_question,) = LINE_ITEM_QUESTIONS[:1]
    assert reads(spend(spark_wh, by=tag_question[0])) == "cost_line_items"


def test_the_demo_rollup_answers_as_duckdb_does(spark_demo: str, duck_url: str) -> None:
    with open_warehouse(spark_demo) as wh, open_warehouse(duck_url, read_only=True) as duck:
        for by in (["ServiceProviderName"], ["ServiceName", "x_GpuModel"]):
            fast = spend(wh, by=by, start=date(2026, 5, 1), end=date(2026, 6, 1))
            assert reads(fast) == "cost_daily"
            assert rows(fast) == rows(
                spend(duck, by=by, start=date(2026, 5, 1), end=date(2026, 6, 1))
            )


# -- native bills --------------------------------------------------------------------------
NATIVE = FOCUS_SAMPLES / "native-exports"


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (aws_cur, "aws_cur_sample-anonymous-aws-export-dataset.csv"),
        (azure, "azure_ea_sample-anonymous-ea-export-dataset.csv"),  # ListCost = price × qty
        (oci, "oci_reports_cost-csv_0000000030000269.csv"),  # cost + overage, 18 decimals
    ],
)
def test_native_bills_load_on_spark_as_on_duckdb(
    spark_wh: Warehouse, tmp_path: Path, module: Any, name: str
) -> None:
    by = ["ServiceName", "ChargeCategory"]
    metrics = ("EffectiveCost", "BilledCost", "ListCost")
    with open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}") as duck:
        want = module.ingest(duck, NATIVE / name)
        expected = {m: rows(spend(duck, by=by, metric=m, rollup=False)) for m in metrics}
    got = module.ingest(spark_wh, NATIVE / name)
    assert got.tables == want.tables
    # Every amount equal to the last of its 12 decimals, read from the line items and (the
    # rollup's metrics) from cost_daily.
    for m in metrics:
        assert rows(spend(spark_wh, by=by, metric=m, rollup=False)) == expected[m], m
    assert rows(spend(spark_wh, by=by, metric="BilledCost")) == expected["BilledCost"]


# -- budgets, alerts, deliveries ---------------------------------------------------------
def test_budget_statuses_alerts_and_deliveries_equal_duckdbs(
    spark_demo: str, duck_url: str, tmp_path: Path
) -> None:
    found: dict[str, Any] = {}
    for engine, url in (("duckdb", duck_url), ("spark", spark_demo)):
        folder = tmp_path / engine
        folder.mkdir()
        budgets, channels = demo_budgets(folder)
        budgets += tuple(replace(b, channels=("alerts-file",)) for b in SMALL)
        with open_warehouse(url) as wh:
            status, report = evaluate(wh, budgets, channels, attribution=demo_attribution())
            again, second = evaluate(wh, budgets, channels, attribution=demo_attribution())
            found[engine] = (
                [s.as_dict() for s in status],
                [s.as_dict() for s in again],
                sorted(report.sent),
                second,
                [{k: v for k, v in a.items() if k != "created_at"} for a in recorded_alerts(wh)],
                _sorted(wh, "alert_deliveries", drop=("last_attempt_at", "sent_at")),
                sorted((folder / "alerts.jsonl").read_text().splitlines()),
            )
    duck, spark = found["duckdb"], found["spark"]
    statuses_, again, sent, second, alerts, deliveries, lines = spark
    assert statuses_ == duck[0]
    names = ["llm-platform", "vision", "recommendations", "search", "vision-small", "team-search"]
    assert [s["budget"] for s in statuses_] == names
    for small in statuses_[-2:]:  # every threshold crossed, the forecast's too
        assert small["crossed"] == "actual 75%, actual 90%, actual 100%, forecast 100%"
        assert small["forecast"] is not None and small["spent"] > 1
    assert again == statuses_  # the same figures on a second run
    assert sent == duck[2] and sent  # every new alert delivered to the file channel once
    assert not second.sent and not second.failed  # nothing fires twice
    assert sorted(alerts, key=repr) == sorted(duck[4], key=repr)
    assert deliveries == duck[5] and {d["status"] for d in deliveries} == {"sent"}
    assert len(lines) == len(sent) and lines == duck[6]


def test_budgets_status_command_on_spark(
    spark_demo: str, duck_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcost.cli.main import cli

    (tmp_path / "mlcost.toml").write_text(DEMO_CONFIG_TOML)
    monkeypatch.chdir(tmp_path)
    out = {}
    for url in (duck_url, spark_demo):
        r = CliRunner().invoke(cli, ["--warehouse", url, "budgets", "status", "--format", "json"])
        assert r.exit_code == 0, r.output
        out[url] = json.loads(r.output)
    assert out[spark_demo] == out[duck_url] and len(out[duck_url]) == 4


# -- the guardrail audit -------------------------------------------------------------------
def test_a_guardrail_dry_run_and_an_exemption_are_audited_as_on_duckdb(
    spark_demo: str, duck_url: str, tmp_path: Path
) -> None:
    policies, owners = demo_policies()
    now = datetime(2026, 5, 8, 23, 0)  # the last night of the demo's data, off hours
    found: dict[str, Any] = {}
    for engine, url in (("duckdb", duck_url), ("spark", spark_demo)):
        folder = tmp_path / engine
        folder.mkdir()
        _, channels = demo_budgets(folder)
        with open_warehouse(url) as wh:
            decisions = enforce(
                wh,
                policies,
                now=now,
                actor="test@ci",
                attribution=demo_attribution(),  # the owner model as built: current
                owners=owners,
                channels=channels,
            )
            kept = exempt(
                wh,
                "vision-dev-big",
                until=None,
                reason="the demo's forgotten instance, kept",
                policy="idle-off-hours",
                actor_name="test@ci",
            )
            found[engine] = (
                sorted((d.as_dict() for d in decisions), key=repr),
                _sorted(wh, "actions", drop=("acted_at",)),
                _sorted(wh, "policy_marks"),
                _sorted(wh, "policy_exemptions", drop=("created_at",)),
                kept.resource_id,
            )
    decided, actions, marks, exemptions, kept_id = found["spark"]
    assert (decided, actions, marks, exemptions, kept_id) == found["duckdb"]
    # The demo's three idle notebooks and dev instance: each decision audited. Without AWS
    # credentials the live tag check before a mark fails, so the audit says so and nothing
    # is marked (on both engines).
    assert len(decided) == 3 and {d["policy"] for d in decided} == {"idle-off-hours"}
    assert [a["outcome"] for a in actions].count("failed") == 3
    assert {a["mode"] for a in actions if a["outcome"] == "failed"} == {"dry-run"}
    assert [(e["resource_id"], e["policy"]) for e in exemptions] == [(kept_id, "idle-off-hours")]
    assert kept_id.startswith("arn:aws:ec2:") and marks == []
