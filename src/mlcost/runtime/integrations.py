"""Hugging Face, PyTorch Lightning, MLflow and Weights & Biases, each only when present.

None of these libraries is imported by ``import mlcost``: the callback classes are built on
first use, and MLflow / W&B are only touched when the user's program has already imported
them (checked in ``sys.modules``) and has an active run.

    trainer = Trainer(..., callbacks=[hf_callback(run="bert-ft", max_cost=50)])
    trainer = L.Trainer(..., callbacks=[lightning_callback(run="resnet", max_hours=2)])
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcost.runtime._tracker import Run

__all__ = ["experiment_metrics", "hf_callback", "lightning_callback", "log_to_experiment_trackers"]

log = logging.getLogger("mlcost.runtime")


def experiment_metrics(run: Run) -> dict[str, float]:
    """The figures logged into MLflow / W&B; names carry the unit and currency."""
    out = {"mlcost_gpu_hours": run.gpu_hours, "mlcost_wall_hours": run.elapsed_seconds / 3600}
    cost = run.cost
    if cost is not None:
        out[f"mlcost_cost_{run.currency.lower()}"] = float(cost)
    used = run.used_gpu_hours
    if used is not None:
        out["mlcost_used_gpu_hours"] = used
    if run.checkpoints:
        out["mlcost_checkpoint_share"] = run.checkpoint_share
    return out


def log_to_experiment_trackers(run: Run) -> list[str]:
    """Log the run's cost and GPU-hours into the active MLflow run and W&B run, where the
    program uses them; returns which were logged. Never raises."""
    logged = []
    figures = experiment_metrics(run)
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        try:
            if mlflow.active_run() is not None:
                mlflow.log_metrics(figures)
                logged.append("mlflow")
        except Exception as exc:
            log.warning("mlcost: could not log to MLflow: %s", exc)
    wandb = sys.modules.get("wandb")
    if wandb is not None:
        try:
            if getattr(wandb, "run", None) is not None:
                wandb.run.summary.update(figures)
                logged.append("wandb")
        except Exception as exc:
            log.warning("mlcost: could not log to W&B: %s", exc)
    return logged


_HF_CLASS: Any = None
_LIGHTNING_CLASS: Any = None


def hf_callback(**track_options: Any) -> Any:
    """A ``transformers.TrainerCallback`` that tracks the training: it starts the run at
    ``on_train_begin``, checks the budget every step, logs evaluation metrics (the stop rule's
    metric as ``eval_<name>`` or ``<name>``), and on a stop sets ``should_save`` and
    ``should_training_stop`` so the Trainer writes its own checkpoint and ends cleanly."""
    global _HF_CLASS
    if _HF_CLASS is None:
        base: Any = importlib.import_module("transformers").TrainerCallback

        class MlcostTrainerCallback(base):  # type: ignore[misc]
            def __init__(self, **options: Any) -> None:
                self.options = options
                self.run: Run | None = None

            def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                from mlcost.runtime._tracker import track

                if state.is_world_process_zero:
                    self.run = track(**self.options).start()

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
                if self.run is not None and self.run.check() is not None:
                    control.should_save = True
                    control.should_training_stop = True
                return control

            def on_log(
                self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any
            ) -> None:
                if self.run is not None and logs:
                    numbers = {k: v for k, v in logs.items() if isinstance(v, int | float)}
                    self.run.log(**numbers)

            def on_evaluate(
                self, args: Any, state: Any, control: Any, metrics: Any = None, **kw: Any
            ) -> Any:
                if self.run is None or not metrics:
                    return control
                numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
                rule = self.run.stop_rule
                if rule is not None and f"eval_{rule.metric}" in numbers:
                    numbers[rule.metric] = numbers[f"eval_{rule.metric}"]
                self.run.log(**numbers)
                if self.run.check() is not None:
                    control.should_save = True
                    control.should_training_stop = True
                return control

            def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                if self.run is not None:
                    self.run.finish("stopped" if self.run.stopped_reason else "finished")

        _HF_CLASS = MlcostTrainerCallback
    return _HF_CLASS(**track_options)


def _lightning_base() -> Any:
    try:
        return importlib.import_module("lightning.pytorch").Callback
    except ImportError:
        return importlib.import_module("pytorch_lightning").Callback


def lightning_callback(*, checkpoint_path: str | None = None, **track_options: Any) -> Any:
    """A PyTorch Lightning ``Callback`` that tracks ``fit``: budget checked after every batch;
    on a stop it saves ``checkpoint_path`` (when given) and sets ``trainer.should_stop``.
    Validation metrics (``trainer.callback_metrics``) feed the stop rule."""
    global _LIGHTNING_CLASS
    if _LIGHTNING_CLASS is None:
        base: Any = _lightning_base()

        class MlcostLightningCallback(base):  # type: ignore[misc]
            def __init__(self, checkpoint_path: str | None = None, **options: Any) -> None:
                super().__init__()
                self.checkpoint_path = checkpoint_path
                self.options = options
                self.run: Run | None = None

            def _stop(self, trainer: Any) -> None:
                if self.run is None or self.run.check() is None or trainer.should_stop:
                    return
                if self.checkpoint_path:
                    with self.run.checkpointing():
                        trainer.save_checkpoint(self.checkpoint_path)
                trainer.should_stop = True

            def on_train_start(self, trainer: Any, pl_module: Any) -> None:
                from mlcost.runtime._tracker import track

                if trainer.is_global_zero:
                    self.run = track(**self.options).start()

            def on_train_batch_end(self, trainer: Any, *args: Any, **kw: Any) -> None:
                self._stop(trainer)

            def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
                if self.run is None:
                    return
                numbers = {
                    k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1
                }
                self.run.log(**numbers)
                self._stop(trainer)

            def on_train_end(self, trainer: Any, pl_module: Any) -> None:
                if self.run is not None:
                    self.run.finish("stopped" if self.run.stopped_reason else "finished")

        _LIGHTNING_CLASS = MlcostLightningCallback
    return _LIGHTNING_CLASS(checkpoint_path=checkpoint_path, **track_options)
