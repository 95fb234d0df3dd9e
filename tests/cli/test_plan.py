"""``mlcost plan …`` through the real entry point."""

from __future__ import annotations

import json

import pytest

from mlcost.cli.main import main


def test_plan_memory_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "plan",
                "memory",
                "--model",
                "llama-3-8b",
                "--mode",
                "infer",
                "--precision",
                "bf16",
                "--kv-tokens",
                "8192",
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["per_gpu_bytes"] == sum(out["breakdown"].values())


def test_plan_gpu_spot_tco(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["plan", "gpu", "--memory-gib", "30", "--purchase", "spot", "--format", "json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["fits"]
    assert (
        main(
            [
                "plan",
                "spot",
                "--hours",
                "24",
                "--instance",
                "p4d.24xlarge",
                "--region",
                "us-east-1",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert "verdict" in json.loads(capsys.readouterr().out)
    assert (
        main(
            [
                "plan",
                "tco",
                "--gpu-hours",
                "5000",
                "--managed-price",
                "6",
                "--ondemand-price",
                "4",
                "--reserved-price",
                "2.6",
            ]
        )
        == 0
    )
    assert "Cheapest" in capsys.readouterr().out


def test_unknown_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "memory", "--model", "lama-3-8b"]) == 2
    assert "Did you mean 'llama-3-8b'" in capsys.readouterr().err
