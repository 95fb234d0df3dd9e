"""``import mlcost.runtime`` stays light: heavy libraries load only inside the functions."""

from __future__ import annotations

import json
import subprocess
import sys

import mlcost
import mlcost.runtime


def test_runtime_import_pulls_in_no_heavy_library() -> None:
    code = (
        "import sys, json, mlcost.runtime; "
        "heavy = ('torch', 'pynvml', 'transformers', 'lightning', 'pytorch_lightning', "
        "'mlflow', 'wandb', 'numpy', 'duckdb', 'ibis'); "
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_public_names() -> None:
    # Sorted the ruff (RUF022) way, like catalog: constants, classes, then functions.
    assert all(hasattr(mlcost.runtime, name) for name in mlcost.runtime.__all__)
    assert mlcost.track is mlcost.runtime.track
    assert mlcost.on_interruption is mlcost.runtime.on_interruption
    assert mlcost.latest_checkpoint is mlcost.runtime.latest_checkpoint
