"""Unit costs: per run and experiment, per model lifecycle, per prediction and token,
per unit of improvement."""

from __future__ import annotations

import pytest

from mlcost import Warehouse
from mlcost.attribution import (
    allocate,
    cost_per_endpoint,
    cost_per_experiment,
    improvement_per_dollar,
    model_lifecycle,
    month_window,
)
from mlcost.config import AttributionConfig
from tests.attribution.conftest import MONTH, line, put, workload


@pytest.fixture
def runs(wh: Warehouse) -> Warehouse:
    # Three runs of experiment "exp" on their own GPU hosts (10.00, 20.00, 40.00 an hour) with
    # eval_loss 2.0, 1.5, 1.6; an endpoint serving model m for 5.00 an hour, 8 hours, 4,000
    # requests and 2M tokens.
    costs = {"r1": "10.00", "r2": "20.00", "r3": "40.00"}
    loss = {"r1": 2.0, "r2": 1.5, "r3": 1.6}
    put(
        wh,
        "cost_line_items",
        [
            line(c, resource=r, gpus=1, start=n, tags={"model": "m"})
            for n, (r, c) in enumerate(costs.items())
        ]
        + [line("5.00", resource="ep", gpus=1, start=h, tags={"model": "m"}) for h in range(8)],
    )
    put(
        wh,
        "workloads",
        [
            workload(
                f"tracker:{r}",
                r,
                n,
                n + 1,
                1,
                experiment="exp",
                run_id=r,
                kind="training",
                metrics=[("eval_loss", loss[r])],
            )
            for n, r in enumerate(costs)
        ]
        + [workload("opencost:ep", "ep", 0, 8, 1, kind="inference", requests=4000.0, tokens=2e6)],
    )
    allocate(wh, AttributionConfig(), *month_window(MONTH))
    return wh


def test_cost_per_experiment_and_run(runs: Warehouse) -> None:
    # 70.00 over three runs, 3 GPU-hours.
    row = cost_per_experiment(runs).to_pyarrow().to_pylist()[0]
    assert (row["experiment"], row["runs"], float(row["cost"]), row["gpu_hours"]) == (
        "exp",
        3,
        70.0,
        3.0,
    )


def test_improvement_per_dollar(runs: Warehouse) -> None:
    # r1 has no earlier best (NULL); r2 improves 0.5 for 20.00; r3 is worse than r2 by 0.1.
    rows = improvement_per_dollar(runs, "eval_loss").to_pyarrow().to_pylist()
    got = [(r["run_id"], r["improvement"], r["improvement_per_dollar"]) for r in rows]
    assert got[0] == ("r1", None, None)
    assert got[1][0] == "r2" and got[1][2] == pytest.approx(0.5 / 20)
    assert got[2][0] == "r3" and got[2][1] == pytest.approx(-0.1)


def test_cost_per_1000_predictions_and_per_1m_tokens(runs: Warehouse) -> None:
    # 40.00 for 4,000 requests and 2M tokens.
    row = cost_per_endpoint(runs).to_pyarrow().to_pylist()[0]
    assert row["per_1k_predictions"] == pytest.approx(10.0)
    assert row["per_1m_tokens"] == pytest.approx(20.0)


def test_model_lifecycle(runs: Warehouse) -> None:
    # Model m: 70.00 of training (3 GPU-hours) and 40.00 of serving (8 GPU-hours).
    row = model_lifecycle(runs).to_pyarrow().to_pylist()[0]
    assert (float(row["training_cost"]), row["training_gpu_hours"]) == (70.0, 3.0)
    assert (float(row["serving_cost"]), row["serving_gpu_hours"]) == (40.0, 8.0)
    assert float(row["cost"]) == 110.0


def test_unit_costs_per_experiment_and_improvement(runs: Warehouse) -> None:
    from mlcost.attribution.unit_costs import unit_costs

    (row,) = unit_costs(runs, "experiment", metric="eval_loss").as_dict()["rows"]
    assert row["usd_per_experiment"]["numerator"] == {"amount": "70.00", "currency": "USD"}
    assert row["usd_per_run"]["value"] == pytest.approx(70 / 3)
    # r2 and r3 (60.00) took the loss from r1's 2.0 to a best of 1.5: 120.00 per unit of loss.
    imp = row["usd_per_improvement"]
    assert (imp["numerator"]["amount"], imp["denominator"]) == ("60.00", 0.5)
    assert imp["value"] == pytest.approx(120.0)


def test_model_lifecycle_phases(runs: Warehouse) -> None:
    from mlcost.attribution.unit_costs import unit_costs

    rows = {r["model"]: r for r in unit_costs(runs, "model").as_dict()["rows"]}
    life = rows["m"]["lifecycle"]
    assert life["training"]["amount"] == "70.00" and life["serving"]["amount"] == "40.00"
    assert life["data_prep"] is None and life["evaluation"] is None
    assert life["total"] == {"amount": "110.00", "currency": "USD"}
