"""The `mlcost ingest focus`, `mlcost sources` and `mlcost spend` commands, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost.testing import PROVIDERS, write_focus_file
from tests.conftest import FOCUS_SAMPLES

MLCOST = [sys.executable, "-m", "mlcost.cli.main"]


def run(*args: str, warehouse: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLCOST_WAREHOUSE": f"duckdb://{warehouse}", "COLUMNS": "200"}
    out = subprocess.run([*MLCOST, *args], capture_output=True, text=True, env=env)
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "w.duckdb"


def test_ingest_prints_a_summary_and_is_idempotent(db: Path, tmp_path: Path) -> None:
    path = write_focus_file(tmp_path / "may.csv", 300)
    out = run("ingest", "focus", str(path), warehouse=db)
    total = sum(Decimal(i % 1000) / 100 for i in range(300))
    assert "300 rows from 1 file(s) (FOCUS 1.2)" in out.stdout
    assert f"EffectiveCost {total:,.2f} USD" in out.stdout
    again = run("ingest", "focus", str(path), warehouse=db)
    assert "Already loaded as ingest 1" in again.stdout


def test_bad_input_exits_2_with_file_row_column_and_fix(db: Path, tmp_path: Path) -> None:
    path = write_focus_file(tmp_path / "bad.csv", 3)
    text = path.read_text().splitlines()
    header = text[0].split(",")
    cells = text[2].split(",")
    cells[header.index('"EffectiveCost"')] = "abc"
    text[2] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    out = run("ingest", "focus", str(path), warehouse=db, check=False)
    assert out.returncode == 2
    assert (
        f"Error: {path}, row 2, column 'EffectiveCost': 'abc' is not a valid number" in out.stderr
    )
    assert "How to fix:" in out.stderr
    assert "Traceback" not in out.stderr


def test_sources_lists_loads_and_restatements(db: Path, tmp_path: Path) -> None:
    run("ingest", "focus", str(write_focus_file(tmp_path / "v1.parquet", 50)), warehouse=db)
    run(
        "ingest",
        "focus",
        str(write_focus_file(tmp_path / "v2.parquet", 20, cost_scale=2)),
        warehouse=db,
    )
    rows = json.loads(run("sources", "--format", "json", warehouse=db).stdout)
    assert [(r["ingest_id"], r["rows"], r["live_rows"], r["rows_replaced"]) for r in rows] == [
        (1, 50, 0, 0),
        (2, 20, 20, 50),
    ]
    available = run("sources", "--available", warehouse=db).stdout
    assert "focus" in available


def test_spend_json_by_two_dimensions_and_a_tag(db: Path, tmp_path: Path) -> None:
    run("ingest", "focus", str(write_focus_file(tmp_path / "a.parquet", 600)), warehouse=db)
    out = run("spend", "--by", "ServiceProviderName,tag:team", "--format", "json", warehouse=db)
    rows = json.loads(out.stdout)
    assert set(rows[0]) == {"ServiceProviderName", "tag:team", "EffectiveCost", "BillingCurrency"}
    expected: dict[tuple[str, str], Decimal] = {}
    for i in range(600):  # providers cycle by 3, teams by 5 (mlcost.testing)
        key = (
            PROVIDERS[i % 3],
            ["search", "recommendations", "llm-platform", "vision", "data-eng"][i % 5],
        )
        expected[key] = expected.get(key, Decimal(0)) + Decimal(i % 1000) / 100
    got = {
        (r["ServiceProviderName"], r["tag:team"]): Decimal(str(r["EffectiveCost"])) for r in rows
    }
    assert got == expected
    assert {r["BillingCurrency"] for r in rows} == {"USD"}
    amounts = [r["EffectiveCost"] for r in rows]
    assert amounts == sorted(amounts, reverse=True)


def test_spend_window_metric_and_csv(db: Path, tmp_path: Path) -> None:
    run("ingest", "focus", str(write_focus_file(tmp_path / "a.parquet", 48)), warehouse=db)
    # Row i starts at hour i (mod 512) of 2026-05-01: the first day holds rows 0..23.
    out = run(
        "spend",
        "--by",
        "BillingAccountId",
        "--from",
        "2026-05-01",
        "--to",
        "2026-05-02",
        "--metric",
        "ListCost",
        "--format",
        "csv",
        warehouse=db,
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "BillingAccountId,ListCost,BillingCurrency"
    account, amount, currency = lines[1].split(",")
    assert (account, currency) == ("acct-1", "USD")
    assert Decimal(amount) == sum(Decimal(i) / 100 * Decimal("1.25") for i in range(24))


def test_spend_unknown_dimension_suggests_a_name(db: Path, tmp_path: Path) -> None:
    run("ingest", "focus", str(write_focus_file(tmp_path / "a.parquet", 5)), warehouse=db)
    out = run("spend", "--by", "ServiceNme", warehouse=db, check=False)
    assert out.returncode == 2
    assert "Did you mean 'ServiceName'" in out.stderr
    legacy = run("spend", "--by", "ProviderName", warehouse=db, check=False)
    assert "ServiceProviderName" in legacy.stderr


def test_every_sample_folder_ingests_from_the_command_line(db: Path) -> None:
    out = run("ingest", "focus", str(FOCUS_SAMPLES / "official-focus-1.0"), warehouse=db)
    assert "1,000 rows" in out.stdout
    table = run("spend", "--by", "ServiceProviderName", warehouse=db).stdout
    assert "Red Hat Inc." in table and "USD" in table


@pytest.mark.parametrize(
    ("by", "says"),
    [
        ("BillingCurrency", "already per BillingCurrency"),
        ("EffectiveCost", "--metric EffectiveCost"),
        ("ServiceProviderName,BillingCurrency", "already per BillingCurrency"),
        ("ServiceProviderName,ServiceProviderName", "named more than once"),
        (",", "at least one dimension"),
    ],
)
def test_spend_by_a_column_it_cannot_group_by_is_a_usage_error(
    tmp_path: Path, by: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlcost import open_warehouse
    from mlcost.cli.main import main

    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    with open_warehouse(url):
        pass
    code = main(["--warehouse", url, "spend", "--by", by])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err
