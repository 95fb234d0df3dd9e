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


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main([*args, "--format", "json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_tp_alone_means_that_many_gpus(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "memory", "--model", "llama-3-70b", "--mode", "infer", "--precision", "bf16"]
    out = _json([*args, "--tp", "2"], capsys)
    assert out["inputs"]["gpus"] == 2  # type: ignore[index]
    one = _json(args, capsys)
    assert out["per_gpu_bytes"] < one["per_gpu_bytes"]  # type: ignore[operator]
    assert main([*args, "--tp", "2", "--gpus", "3"]) != 0
    assert "--tp 2 alone" in capsys.readouterr().err


def test_list_models_names_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    from mlcost.plan import PRESETS

    out = _json(["plan", "memory", "--list-models"], capsys)
    assert {m["model"] for m in out["models"]} == set(PRESETS)  # type: ignore[attr-defined]


def test_kv_tokens_help_says_per_sequence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "memory", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Context held per sequence" in text and "--engine vllm" in text


def test_vllm_sizes_its_kv_pool_from_the_card(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "memory", "--model", "llama-3-8b", "--mode", "infer", "--precision", "bf16"]
    out = _json([*args, "--engine", "vllm", "--gpu-memory-gib", "80"], capsys)
    # vLLM takes gpu_memory_utilization (0.9) of the card, plus the CUDA context.
    bd = out["breakdown"]
    assert sum(v for k, v in bd.items() if k != "cuda_context") == pytest.approx(  # type: ignore[attr-defined]
        0.9 * 80 * 2**30, rel=1e-6
    )
    tokens = out["inputs"]["kv_pool_tokens"]  # type: ignore[index]
    # Llama-3-8B keeps 2 x 32 layers x 1024 x 2 bytes = 128 KiB per token.
    assert tokens == bd["kv_cache"] // (128 * 1024)  # type: ignore[index]
    bigger = _json([*args, "--engine", "vllm", "--gpu-memory-gib", "141"], capsys)
    assert bigger["inputs"]["kv_pool_tokens"] > tokens  # type: ignore[index]


def test_lora_rank_and_targets(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "memory", "--model", "llama-3-8b", "--mode", "lora", "--precision", "bf16"]
    attn = _json(args, capsys)
    rank64 = _json([*args, "--lora-rank", "64"], capsys)
    every = _json([*args, "--lora-targets", "all-linear"], capsys)
    w = [o["breakdown"]["optimizer_states"] for o in (attn, rank64, every)]  # type: ignore[index]
    # 8 fp32 bytes of AdamW moments per adapter parameter; rank 16 on q,k,v,o of Llama-3-8B
    # is 13,631,488 parameters (as peft printed for the H200 measurement).
    assert w[0] == 8 * 13_631_488
    assert w[1] == 4 * w[0]
    assert w[2] > 2 * w[0]


def test_torchtune_recipe_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "memory", "--model", "llama-3.1-8b", "--precision", "bf16", "--batch", "2"]
    args += ["--optimizer", "adamw-8bit", "--grad-checkpointing"]
    plain = _json(args, capsys)
    tuned = _json(
        [*args, "--chunked-loss", "8", "--optimizer-in-backward", "--paged-optimizer"], capsys
    )
    assert tuned["per_gpu_bytes"] < plain["per_gpu_bytes"] / 2  # type: ignore[operator]
    assert tuned["inputs"]["loss_chunks"] == 8  # type: ignore[index]
    assert tuned["breakdown"]["optimizer_states"] == 0  # type: ignore[index]
    assert main(["plan", "memory", "--model", "gpt2", "--mode", "infer", "--chunked-loss", "8"])
    assert "training options" in capsys.readouterr().err


def test_exact_traces_a_config(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("transformers")
    from pathlib import Path

    config = Path(__file__).parents[1] / "data/memory/h200-configs/gpt2-124m.json"
    args = ["plan", "memory", "--config", str(config), "--batch", "1", "--seq", "64"]
    exact = _json([*args, "--exact", "--precision", "fp32"], capsys)
    assert exact["params"] == pytest.approx(124_439_808, rel=1e-3)
    # fp32 weights, gradients and two AdamW moments at least.
    assert exact["per_gpu_bytes"] > 16 * 124_439_808  # type: ignore[operator]
    assert main([*args, "--exact", "--mode", "infer"]) != 0


@pytest.mark.parametrize("command", ["memory", "gpu", "spot", "tco"])
def test_each_request_field_is_an_option(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from mlcost.plan import GpuRequest, MemoryRequest, SpotRequest, TcoRequest
    from mlcost.plan.requests import request_fields

    classes = {
        "memory": [MemoryRequest],
        "gpu": [MemoryRequest, GpuRequest],
        "spot": [SpotRequest],
        "tco": [TcoRequest],
    }[command]
    assert main(["plan", command, "--help"]) == 0
    text = capsys.readouterr().out
    for cls in classes:
        for f in request_fields(cls):
            if f.name != "job":
                assert "--" + (f.metadata["flag"] or f.name.replace("_", "-")) in text
