"""``mlcost gpus`` and ``mlcost catalog import skypilot`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcost.cli.main import main


@pytest.fixture(autouse=True)
def _empty_catalog_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCOST_CATALOG_DIR", str(tmp_path / "catalog-home"))


def test_gpus_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gpus", "--gpu", "H100", "--cloud", "aws", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["instance_type"] for r in rows} == {"p5.4xlarge", "p5.48xlarge"}
    assert all(r["currency"] == "USD" for r in rows)


def test_gpus_table_spot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gpus", "--min-memory", "80", "--spot", "--sort", "gpu-price"]) == 0
    assert "spot USD/hour" in capsys.readouterr().out


def test_unknown_gpu_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gpus", "--gpu", "H10"]) == 2
    assert "Did you mean 'H100'" in capsys.readouterr().err


def test_catalog_import_skypilot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "v8/hyperbolic").mkdir(parents=True)
    (tmp_path / "v8/hyperbolic/vms.csv").write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,StorageGiB,Price,Region,GpuInfo,SpotPrice\n"
        "1x-H100-75-722,H100,1,75,722,800,1.29,default,,\n"
    )
    assert main(["catalog", "import", "skypilot", str(tmp_path / "v8"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"cloud": "hyperbolic", "offers": 1}]
