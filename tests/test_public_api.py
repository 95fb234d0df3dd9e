"""The public surface: sorted, importable, and `import mlcost` is cheap and inert."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlcost


def test_all_is_sorted_and_every_name_imports() -> None:
    assert mlcost.__all__ == sorted(mlcost.__all__)
    for name in mlcost.__all__:
        assert getattr(mlcost, name) is not None, name


def test_import_has_no_side_effects_and_no_heavy_imports(tmp_path: Path) -> None:
    # A fresh interpreter in an empty folder: importing must not create files, change the
    # environment, or pull in the engines (they load when first used).
    code = (
        "import os, sys, json; before = dict(os.environ); import mlcost; "
        "heavy = sorted(m for m in ('duckdb', 'ibis', 'pyarrow', 'pandas', 'rich', 'torch', "
        "'click') if m in sys.modules); "
        "print(json.dumps({'heavy': heavy, 'env_same': before == dict(os.environ)}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    assert result == {"heavy": [], "env_same": True}
    assert list(tmp_path.iterdir()) == []


def test_import_is_fast() -> None:
    # -X importtime reports microseconds per module; the whole package must stay small.
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mlcost"],
        capture_output=True,
        text=True,
        check=True,
    )
    own = [line for line in out.stderr.splitlines() if line.rstrip().endswith("| mlcost")]
    cumulative_us = int(own[-1].split("|")[1])
    assert cumulative_us < 100_000  # 0.1 s: a budget, not a benchmark; heavy imports break it


def test_no_public_name_is_also_a_submodule() -> None:
    # `import mlcost.x` sets the attribute mlcost.x to the module, which would shadow a lazily
    # exported function of the same name for everyone after that import.
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(mlcost.__path__)}
    assert not submodules & set(mlcost.__all__)
