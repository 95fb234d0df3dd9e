"""`mlcost units --format json` on the demo: every figure equals a computation from the
warehouse done here in SQL, apart from the library's Ibis."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from mlcost.cli.main import cli

# Endpoints of the demo's serving hosts, as a vLLM / TGI exporter would name them (the host),
# and the tokens each served: (endpoint, model, tenant, input, output, requests, prefill s,
# decode s). The ranker hosts report no engine timings; gke-serve-0 does.
SERVED = [
    ("eks-serving-ranker-0", "ranker-v2", "shop", 3_000_000, 1_000_000, 20_000, None, None),
    ("eks-serving-ranker-0", "ranker-v2", "ads", 1_000_000, 1_000_000, 5_000, None, None),
    ("eks-serving-ranker-1", "ranker-v2", "shop", 2_000_000, 500_000, 10_000, None, None),
    ("gke-serve-0", "vit-b16", None, 800_000, 200_000, 4_000, 100.0, 300.0),
]
NOT_SERVING = "('training', 'fine-tuning', 'notebook-dev', 'data processing')"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    args = ["demo", "--out", str(out), "--days", "2", "--scale", "0.2", "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(out / "warehouse.duckdb"))
    t0 = datetime(2026, 5, 1, 3)
    for n, (ep, model, tenant, i, o, req, pre, dec) in enumerate(SERVED):
        con.execute(
            "INSERT INTO served_tokens (ts, source, endpoint, model, tenant, input_tokens, "
            "output_tokens, requests, prefill_seconds, decode_seconds) "
            "VALUES (?, 'test', ?, ?, ?, ?, ?, ?, ?, ?)",
            [t0 + timedelta(hours=n), ep, model, tenant, i, o, req, pre, dec],
        )
    con.close()
    return out


def units(demo: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli, ["--warehouse", str(demo / "warehouse.duckdb"), "units", *args, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    return out


def read(demo: Path) -> duckdb.DuckDBPyConnection:
    # Closed before the next command opens the file (DuckDB allows one configuration).
    return duckdb.connect(str(demo / "warehouse.duckdb"), read_only=True)


def endpoint_cost(con: duckdb.DuckDBPyConnection, host: str) -> float:
    # The serving host's allocated cost, idle share included, without other workloads' shares.
    (cost,) = con.execute(
        f"SELECT sum(EffectiveCost) FROM allocated_costs WHERE ResourceName = ? "
        f"AND coalesce(x_WorkloadType, '') NOT IN {NOT_SERVING}",
        [host],
    ).fetchone()
    return float(cost)


def test_per_model_token_and_prediction_costs_equal_the_warehouse(demo: Path) -> None:
    got = {r["model"]: r for r in units(demo, "--by", "model")["rows"]}
    con = read(demo)
    # ranker-v2 (by token counts): each host's cost split by its own tokens, then summed.
    c0, c1 = endpoint_cost(con, "eks-serving-ranker-0"), endpoint_cost(con, "eks-serving-ranker-1")
    cost = c0 + c1
    in_cost = c0 * 4 / 6 + c1 * 2 / 2.5  # host 0: 4M in, 2M out; host 1: 2M in, 0.5M out
    i, o, req = 6_000_000, 2_500_000, 35_000
    ranker = got["ranker-v2"]
    assert ranker["split_rule"].startswith("by token counts")
    tok = ranker["usd_per_1m_tokens"]
    assert tok["input"]["value"] == pytest.approx(in_cost / i * 1e6, rel=1e-6)
    assert tok["output"]["value"] == pytest.approx((cost - in_cost) / o * 1e6, rel=1e-6)
    assert (tok["input"]["denominator"], tok["output"]["denominator"]) == (i, o)
    assert Decimal(tok["input"]["numerator"]["amount"]) == pytest.approx(
        Decimal(str(in_cost)), abs=Decimal("0.01")
    )
    assert ranker["usd_per_1k_predictions"]["value"] == pytest.approx(cost / req * 1e3, rel=1e-6)
    assert ranker["usd_per_1k_predictions"]["denominator"] == req
    # vit-b16 (by engine time): prefill 100 s of 400, decode 300 s.
    vit_cost = endpoint_cost(con, "gke-serve-0")
    vit = got["vit-b16"]["usd_per_1m_tokens"]
    assert vit["input"]["value"] == pytest.approx(vit_cost * 0.25 / 800_000 * 1e6, rel=1e-6)
    assert vit["output"]["value"] == pytest.approx(vit_cost * 0.75 / 200_000 * 1e6, rel=1e-6)
    assert vit["input"]["numerator"]["currency"] == "USD"
    # Utilization beside it: used over measured GPU-hours of the two ranker hosts.
    (used, measured) = con.execute(
        "SELECT sum(x_GpuHours) FILTER (WHERE x_Bucket = 'gpu_used'), "
        "sum(x_GpuHours) FILTER (WHERE x_Bucket IN ('gpu_used', 'gpu_idle')) "
        f"FROM allocated_costs WHERE ResourceName LIKE 'eks-serving-ranker-%' "
        f"AND coalesce(x_WorkloadType, '') NOT IN {NOT_SERVING}"
    ).fetchone()
    con.close()
    assert ranker["utilization"] == pytest.approx(used / measured, abs=1e-4)


def test_per_experiment_cost_equals_the_warehouse(demo: Path) -> None:
    got = {r["experiment"]: r for r in units(demo, "--by", "experiment")["rows"]}
    with read(demo) as con:
        want = con.execute(
            "SELECT w.experiment, sum(a.EffectiveCost), count(DISTINCT w.workload_id) "
            "FROM allocated_costs a JOIN workloads w ON a.x_WorkloadId = w.workload_id "
            "WHERE w.experiment IS NOT NULL AND (a.ChargeCategory IS DISTINCT FROM 'Purchase' "
            "OR a.CommitmentDiscountId IS NULL) GROUP BY 1"
        ).fetchall()
    assert want, "the demo has experiments"
    for experiment, cost, runs in want:
        row = got[experiment or "(no experiment)"]
        assert row["usd_per_experiment"]["value"] == pytest.approx(float(cost), abs=0.01)
        assert row["usd_per_experiment"]["numerator"]["currency"] == "USD"
        assert row["usd_per_run"]["value"] == pytest.approx(float(cost) / runs, abs=0.01)
        assert row["runs"] == runs


def test_table_and_csv_show_numerator_and_denominator(demo: Path) -> None:
    base = ["--warehouse", str(demo / "warehouse.duckdb"), "units", "--by", "model"]
    table = CliRunner().invoke(cli, base, env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "input tokens)" in table.output and "by token counts" in table.output
    csv = CliRunner().invoke(cli, [*base, "--format", "csv"])
    header = csv.output.splitlines()[0].split(",")
    assert {"usd_per_1m_tokens_input", "usd_per_1m_tokens_input_numerator"} <= set(header)
    assert "usd_per_1m_tokens_input_denominator" in header


def test_api_comparison_at_the_measured_traffic(demo: Path) -> None:
    # vit-b16 on gke-serve-0: the host's cost per billed hour against an API at 0.50 / 1.50
    # per 1M input / output tokens, at its 80% input mix (800k in, 200k out).
    rows = units(demo, "--by", "model", "--api-input-price", "0.5", "--api-output-price", "1.5")
    vit = {r["model"]: r for r in rows["rows"]}["vit-b16"]
    with read(demo) as con:
        (hours,) = con.execute(
            "SELECT epoch(max(ChargePeriodEnd) - min(ChargePeriodStart)) / 3600 "
            "FROM allocated_costs WHERE ResourceName = 'gke-serve-0'"
        ).fetchone()
        per_hour = endpoint_cost(con, "gke-serve-0") / hours
    mix = 0.8 * 0.5 + 0.2 * 1.5
    vs = vit["vs_api"]
    assert vs["break_even_tokens_per_second"] == pytest.approx(
        per_hour / 3600 / (mix / 1e6), rel=1e-4
    )
    assert vs["measured_tokens_per_second"] == pytest.approx(1_000_000 / (hours * 3600), rel=1e-3)
    assert vs["cheaper"] == "api"  # one hour of tokens on a host billed all window
    assert any("vs_api" in n for n in rows["notes"])


def test_the_demo_prints_unit_costs_and_the_api_comparison(demo: Path) -> None:
    from mlcost.cli.demo import print_units
    from mlcost.demo._prices import API_NAME

    lines: list[str] = []
    print_units(demo, echo=lines.append)
    text = "\n".join(lines)
    got = {r["model"]: r for r in units(demo, "--by", "model")["rows"]}
    ranker = got["ranker-v2"]["usd_per_1m_tokens"]["input"]
    assert "per 1M tokens, ranker-v2" in text
    assert f"{ranker['value']:,.2f} USD" in text  # the same figure as mlcost units
    assert f"vs {API_NAME}" in text and "tokens/s" in text
    top = units(demo, "--by", "experiment")["rows"][0]
    assert f"per experiment, most expensive: {top['experiment']}" in text
