"""Hugging Face Trainer and Lightning callbacks on real CPU training; MLflow and W&B logging."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from mlcost.runtime import StopRule, hf_callback, lightning_callback, track
from mlcost.runtime.integrations import log_to_experiment_trackers
from tests.runtime.servers import read_spool


def _hf_setup(tmp_path: Path, max_steps: int) -> tuple[Any, Any, Any]:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    class Tiny(torch.nn.Module):  # any nn.Module returning a loss trains under Trainer
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 1)

        def forward(self, x: Any, labels: Any = None) -> dict[str, Any]:
            out = self.linear(x).squeeze(-1)
            return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}

    g = torch.Generator().manual_seed(0)
    data = [
        {"x": torch.randn(4, generator=g), "labels": torch.randn((), generator=g)}
        for _ in range(32)
    ]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=max_steps, per_device_train_batch_size=4,
        report_to=[], logging_steps=2, eval_strategy="steps", eval_steps=3, save_strategy="no",
        use_cpu=True, disable_tqdm=True, learning_rate=0.05,
    )  # fmt: skip
    return transformers, Tiny(), (args, data)


def test_hf_trainer_callback_tracks_and_feeds_eval_metrics(tmp_path: Path) -> None:
    transformers, model, (args, data) = _hf_setup(tmp_path, max_steps=6)
    callback = hf_callback(run="hf", spool=tmp_path / "spool", detect=False, hourly_price=2.0)
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, eval_dataset=data[:8], callbacks=[callback]
    )
    trainer.train()
    run = callback.run
    assert run is not None and run.status == "finished"
    assert "eval_loss" in run.metrics and "loss" in run.metrics
    assert read_spool(tmp_path / "spool", "run")[-1]["cost"]["currency"] == "USD"


def test_hf_budget_stop_saves_through_the_trainer_and_ends_training(tmp_path: Path) -> None:
    transformers, model, (args, data) = _hf_setup(tmp_path, max_steps=50)
    callback = hf_callback(
        run="hf-budget", spool=tmp_path / "spool", detect=False, hourly_price=2.0, max_cost=0
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, eval_dataset=data[:8], callbacks=[callback]
    )
    trainer.train()
    assert trainer.state.global_step == 1  # stopped at the first step's end
    assert (tmp_path / "out" / "checkpoint-1").is_dir()  # the Trainer's own save ran
    assert callback.run.status == "stopped"
    assert "Budget reached" in read_spool(tmp_path / "spool", "run")[-1]["stopped_reason"]


def _lightning_module() -> tuple[Any, Any, Any]:
    torch = pytest.importorskip("torch")
    lp = pytest.importorskip("lightning.pytorch")

    class Regressor(lp.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 1)

        def training_step(self, batch: Any, _: int) -> Any:
            x, y = batch
            return torch.nn.functional.mse_loss(self.linear(x).squeeze(-1), y)

        def validation_step(self, batch: Any, _: int) -> None:
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.linear(x).squeeze(-1), y))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.05)

    g = torch.Generator().manual_seed(0)
    ds = torch.utils.data.TensorDataset(
        torch.randn(32, 4, generator=g), torch.randn(32, generator=g)
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=8)
    return lp, Regressor(), loader


def _trainer(lp: Any, tmp_path: Path, callback: Any, epochs: int) -> Any:
    return lp.Trainer(
        max_epochs=epochs, callbacks=[callback], logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        default_root_dir=str(tmp_path), num_sanity_val_steps=0,
    )  # fmt: skip


LIGHTNING_NOISE = [
    "ignore:.*does not have many workers:UserWarning",
    "ignore:.*does not have many workers",
    "ignore:.*GPU available but not used",
    "ignore:.*LeafSpec.*:FutureWarning",  # lightning 2.6 on torch 2.13
]


@pytest.mark.filterwarnings(*LIGHTNING_NOISE)
def test_lightning_callback_tracks_fit_and_val_metrics(tmp_path: Path) -> None:
    lp, model, loader = _lightning_module()
    callback = lightning_callback(run="pl", spool=tmp_path / "spool", detect=False, hourly_price=1)
    _trainer(lp, tmp_path, callback, epochs=2).fit(model, loader, loader)
    assert callback.run.status == "finished"
    assert "val_loss" in callback.run.metrics


@pytest.mark.filterwarnings(*LIGHTNING_NOISE)
def test_lightning_stop_rule_or_budget_saves_then_stops(tmp_path: Path) -> None:
    lp, model, loader = _lightning_module()
    ckpt = tmp_path / "stop.ckpt"
    callback = lightning_callback(
        checkpoint_path=str(ckpt), run="pl-budget", spool=tmp_path / "spool", detect=False,
        hourly_price=1, max_cost=0, stop_rule=StopRule("val_loss", 1.0),
    )  # fmt: skip
    trainer = _trainer(lp, tmp_path, callback, epochs=5)
    trainer.fit(model, loader, loader)
    assert trainer.global_step == 1 and ckpt.is_file()
    assert callback.run.status == "stopped" and callback.run.checkpoints == 1


def test_cost_goes_into_active_mlflow_and_wandb_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand-ins with the two libraries' public calls: mlflow.active_run/log_metrics and
    # wandb.run.summary.update (the real packages are too heavy for the test extra).
    logged: dict[str, dict[str, float]] = {}
    mlflow = types.ModuleType("mlflow")
    mlflow.active_run = lambda: object()  # type: ignore[attr-defined]
    mlflow.log_metrics = lambda m: logged.setdefault("mlflow", m)  # type: ignore[attr-defined]
    wandb = types.ModuleType("wandb")
    wandb.run = types.SimpleNamespace(  # type: ignore[attr-defined]
        summary=types.SimpleNamespace(update=lambda m: logged.setdefault("wandb", m))
    )
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    monkeypatch.setitem(sys.modules, "wandb", wandb)
    with track("logged", hourly_price=10, spool=tmp_path, detect=False) as run:
        run.step()
    assert set(logged) == {"mlflow", "wandb"}
    assert logged["mlflow"]["mlcost_cost_usd"] == pytest.approx(float(run.cost or 0))
    assert "mlcost_gpu_hours" in logged["wandb"]
    # No active MLflow run and no W&B run: nothing logged, nothing raised.
    mlflow.active_run = lambda: None  # type: ignore[attr-defined]
    wandb.run = None  # type: ignore[attr-defined]
    assert log_to_experiment_trackers(run) == []
