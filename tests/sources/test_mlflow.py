"""MLflow runs from a real local tracking store that the test fills through MLflow's API."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.errors import InvalidInput

mlflow = pytest.importorskip("mlflow")

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning"
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A file-backed MLflow store with two experiments and three runs.

    MLflow 3 keeps the file store in maintenance mode behind MLFLOW_ALLOW_FILE_STORE; it needs
    no database packages, which keeps the test extra to mlflow-skinny.
    """
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = MlflowClient(tracking_uri=uri)
        llm = client.create_experiment("llm-finetune")
        vision = client.create_experiment("vision")
        run = client.create_run(
            llm,
            run_name="lora-r16",
            tags={"team": "search", "resource_id": "i-0abc", "kind": "fine-tuning"},
            start_time=1777593600000,
        )
        client.log_param(run.info.run_id, "gpus", "8")
        client.log_param(run.info.run_id, "lr", "0.0002")
        client.log_metric(run.info.run_id, "loss", 2.0, step=1)
        client.log_metric(run.info.run_id, "loss", 1.5, step=2)
        client.set_terminated(run.info.run_id, "FINISHED", end_time=1777600800000)
        failed = client.create_run(llm, run_name="lora-r64", tags={"host": "gpu-node-3"})
        client.set_terminated(failed.info.run_id, "FAILED")
        client.create_run(vision, run_name="vit")
    return uri


def test_mlflow_runs(wh: Warehouse, store: str) -> None:
    from mlcost.sources.mlflow import ingest_mlflow

    result = ingest_mlflow(wh, store)
    assert result.tables == {"workloads": 3, "run_metrics": 2}
    t = wh.table("workloads")
    rows = {r["name"]: r for r in t.to_pyarrow().to_pylist()}
    lora = rows["lora-r16"]
    assert (lora["experiment"], lora["status"], lora["kind"]) == (
        "llm-finetune",
        "finished",
        "fine-tuning",
    )
    assert lora["resource_id"] == "i-0abc" and lora["gpu_count"] == 8.0
    assert dict(lora["metrics"]) == {"loss": 1.5}  # the latest value
    # ... and its history, point by point, for the early-stopping insight.
    history = wh.table("run_metrics").order_by("step").to_pyarrow().to_pylist()
    assert [(h["key"], h["step"], h["value"]) for h in history] == [
        ("loss", 1, 2.0),
        ("loss", 2, 1.5),
    ]
    assert {h["workload_id"] for h in history} == {f"mlflow:{lora['run_id']}"}
    assert dict(lora["params"]) == {"gpus": "8", "lr": "0.0002"}
    assert (lora["end"] - lora["start"]).total_seconds() == 7200
    assert (
        rows["lora-r64"]["status"] == "failed" and rows["lora-r64"]["resource_id"] == "gpu-node-3"
    )
    assert rows["vit"]["status"] == "running" and rows["vit"]["end"] is None
    assert ingest_mlflow(wh, store).already_loaded
    only = ingest_mlflow(wh, store, experiments=["vision"])
    assert only.tables == {"workloads": 1} and only.rows_replaced == 1


def test_mlflow_unknown_experiment(wh: Warehouse, store: str) -> None:
    from mlcost.sources.mlflow import ingest_mlflow

    with pytest.raises(InvalidInput, match="no experiment named nope"):
        ingest_mlflow(wh, store, experiments=["nope"])
    assert wh.table("workloads").count().execute() == 0
