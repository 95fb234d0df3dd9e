"""The memory estimator against published measurements (each row of data/published_peaks.csv
names its source: HF transformers docs, vLLM logs, the PEFT README)."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from mlcost.errors import InvalidInput, UnknownName
from mlcost.plan.memory import GIB, estimate_memory

ROWS = list(
    csv.DictReader((Path(__file__).parent / "data/published_peaks.csv").read_text().splitlines())
)


def _estimate_gib(row: dict[str, str]) -> float:
    est = estimate_memory(
        row["model"],
        mode=row["mode"],
        precision=row["precision"],
        optimizer=row["optimizer"] or "adamw",
        batch=int(row["batch"]),
        seq=int(row["seq"]),
        grad_checkpointing=row["grad_checkpointing"] == "yes",
        gpus=int(row["gpus"]),
        tp=int(row["tp"]),
        attention=row["attention"],  # type: ignore[arg-type]
        foreach_optimizer=row["foreach"] == "yes",
        engine=row["engine"],
        gpu_memory_gib=float(row["gpu_memory_gib"]) if row["gpu_memory_gib"] else None,
        max_num_batched_tokens=int(row["max_num_batched_tokens"] or 8192),
        lora_rank=int(row["lora_rank"] or 16),
        lora_targets=row["lora_targets"] or "attn",
        loss_chunks=int(row["loss_chunks"] or 1),
        optimizer_in_backward=row["optimizer_in_backward"] == "yes",
        paged_optimizer=row["paged_optimizer"] == "yes",
        compiled_loss=row["compiled_loss"] == "yes",
    )
    b = est.breakdown
    # What the measurement saw: the whole process (nvidia-smi), allocated tensors only
    # (torch.cuda.max_memory_allocated), or one component.
    scope = {
        "process": est.per_gpu_bytes,
        "allocated": est.per_gpu_bytes - b["cuda_context"] - b.get("allocator_reserve", 0),
        "weights": b["weights"],
        "weights+context": b["weights"] + b["cuda_context"],
        "kv_pool": b.get("kv_cache", 0),  # a serving engine's KV pool (vLLM's '# GPU blocks')
    }[row["scope"]]
    return scope / GIB


def _error(row: dict[str, str]) -> float:
    return abs(_estimate_gib(row) - float(row["measured_gib"])) / float(row["measured_gib"])


def test_at_least_twenty_published_measurements_each_with_a_source() -> None:
    assert len(ROWS) >= 20
    assert all(r["source"].strip() for r in ROWS)


def test_median_absolute_error_under_ten_percent() -> None:
    assert statistics.median(_error(r) for r in ROWS) < 0.10


# Published readings the estimate misses by more than 30%, kept in the set (and in its median)
# and reported in docs/planning.md; strict: the test fails once one of them is matched.
BEYOND_30 = {
    # torchtune's README gives one config per recipe and a second, larger reading on an A6000
    # without saying what differs (the 4090 reading of the same config is matched).
    "tt-l31-8b-full-a6000": "torchtune README: A6000 settings not stated",
    "tt-l31-8b-lora-a6000": "torchtune README: A6000 settings not stated",
    # torchtune 2024-04 QLoRA (torchao NF4): twice the weights and loss the recipe computes.
    "tt-l2-7b-qlora": "torchtune 2024-04 QLoRA peak not explained by the recipe's step",
}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(r, marks=pytest.mark.xfail(reason=BEYOND_30[r["id"]], strict=True))
        if r["id"] in BEYOND_30
        else r
        for r in ROWS
    ],
    ids=[r["id"] for r in ROWS],
)
def test_each_measurement_within_thirty_percent(row: dict[str, str]) -> None:
    # Looser per row: the PEFT rows do not state batch and sequence (see their source column).
    assert _error(row) < 0.30, row["source"]


def test_torchtune_readings_cite_the_repository_and_commit() -> None:
    tt = [r for r in ROWS if r["id"].startswith("tt-")]
    assert len(tt) >= 5
    for r in tt:
        assert "github.com/pytorch/torchtune" in r["source"]
        assert any(len(w) == 40 and set(w) <= set("0123456789abcdef") for w in r["source"].split())


def _tt_full(**kw: object) -> dict[str, int]:
    """Llama-3.1-8B full finetune as torchtune's single-device config runs it."""
    args: dict[str, object] = {
        "mode": "train",
        "precision": "bf16",
        "optimizer": "adamw-8bit",
        "batch": 2,
        "seq": 2048,
        "grad_checkpointing": True,
    }
    est = estimate_memory("llama-3.1-8b", **{**args, **kw})  # type: ignore[arg-type]
    return {**est.breakdown, "per_gpu": est.per_gpu_bytes, **est.inputs}


def test_chunked_loss_keeps_one_fp32_copy_of_the_logits() -> None:
    vocab_tokens = 128_256 * 2 * 2048
    # Optimizer in backward: the loss's backward is the peak (no separate optimizer step).
    plain = _tt_full(optimizer_in_backward=True)["logits_and_loss"]
    chunked = _tt_full(optimizer_in_backward=True, loss_chunks=8)["logits_and_loss"]
    compiled = _tt_full(optimizer_in_backward=True, loss_chunks=8, compiled_loss=True)[
        "logits_and_loss"
    ]
    # Hugging Face's loss: 16-bit logits + fp32 log-probabilities + two fp32 gradients.
    assert plain >= 14 * vocab_tokens
    # Chunked: every chunk's saved fp32 log-probabilities, but one chunk's upcast at a time.
    assert 4 * vocab_tokens < chunked < 7 * vocab_tokens
    # Compiled: the 16-bit logits and one chunk's 16-bit gradient, no fp32 copy kept.
    assert 2 * vocab_tokens <= compiled < 3 * vocab_tokens


def test_optimizer_in_backward_never_holds_every_gradient() -> None:
    plain, in_bwd = _tt_full(), _tt_full(optimizer_in_backward=True)
    assert in_bwd["per_gpu"] < plain["per_gpu"]
    # One parameter's bf16 gradient at a time: the largest, the 128256 x 4096 embedding.
    assert in_bwd["gradients"] == 128_256 * 4096 * 2


def test_paged_optimizer_states_are_reported_not_counted() -> None:
    paged = _tt_full(paged_optimizer=True, optimizer_in_backward=True)
    assert paged["optimizer_states"] == 0
    assert paged["paged_optimizer_bytes"] == pytest.approx(2 * 8_030_261_248, rel=1e-3)
    est = estimate_memory("llama-3.1-8b", precision="bf16", optimizer="adamw-8bit",
                          paged_optimizer=True)  # fmt: skip
    assert any("paged" in n for n in est.notes)


def test_training_options_refused_where_they_mean_nothing() -> None:
    with pytest.raises(InvalidInput, match="training options"):
        estimate_memory("gpt2", mode="infer", precision="bf16", loss_chunks=8)
    with pytest.raises(InvalidInput, match="adafactor"):
        estimate_memory("gpt2", optimizer="adafactor", paged_optimizer=True)
    with pytest.raises(InvalidInput, match="loss_chunks must be positive"):
        estimate_memory("gpt2", loss_chunks=0)


def test_breakdown_sums_and_serializes() -> None:
    est = estimate_memory("llama-3-8b", mode="train", precision="amp-bf16", batch=2, seq=4096)
    assert est.per_gpu_bytes == sum(est.breakdown.values())
    assert {"weights", "gradients", "optimizer_states", "activations", "logits_and_loss"} <= set(
        est.breakdown
    )
    assert json.loads(json.dumps(est.to_dict()))["per_gpu_bytes"] == est.per_gpu_bytes


def test_sharding_and_checkpointing_reduce_memory() -> None:
    base = estimate_memory("llama-2-7b", precision="amp-bf16", gpus=8, seq=2048)
    z3 = estimate_memory("llama-2-7b", precision="amp-bf16", gpus=8, sharding="zero3", seq=2048)
    assert z3.per_gpu_bytes < base.per_gpu_bytes / 3
    # Activations dominate at batch 4; checkpointing keeps one input per layer instead.
    full = estimate_memory("llama-2-7b", precision="amp-bf16", batch=4, seq=2048)
    gc = estimate_memory(
        "llama-2-7b", precision="amp-bf16", batch=4, seq=2048, grad_checkpointing=True
    )
    assert gc.breakdown["activations"] < full.breakdown["activations"] / 5
    assert gc.per_gpu_bytes < full.per_gpu_bytes


def test_gqa_shrinks_the_kv_cache() -> None:
    # Llama-3-8B has 8 KV heads for 32 query heads; Llama-2-7B has 32.
    l3 = estimate_memory("llama-3-8b", mode="infer", precision="bf16", kv_tokens=8192)
    l2 = estimate_memory("llama-2-7b", mode="infer", precision="bf16", kv_tokens=8192)
    assert l2.breakdown["kv_cache"] == 4 * l3.breakdown["kv_cache"]
    # 2 (K, V) x 32 layers x 1024 dims x 8192 tokens x 2 bytes = 1 GiB.
    assert l3.breakdown["kv_cache"] == 2**30


def test_config_json(tmp_path: Path) -> None:
    # A Llama-2-7B config.json (the Hub's meta-llama/Llama-2-7b-hf, shapes only).
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "num_key_value_heads": 32,
        "vocab_size": 32000,
        "hidden_act": "silu",
        "tie_word_embeddings": False,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    est = estimate_memory(config=path, mode="infer", precision="bf16")
    assert est.params == pytest.approx(6_738_415_616, rel=0.01)


def test_bad_input_is_clear() -> None:
    with pytest.raises(UnknownName, match="llama-3-8b"):
        estimate_memory("lama-3-8b")
    with pytest.raises(UnknownName, match="adamw"):
        estimate_memory("gpt2", optimizer="adam")
    with pytest.raises(InvalidInput, match="batch must be positive"):
        estimate_memory("gpt2", batch=-1)
    with pytest.raises(InvalidInput, match="params"):
        estimate_memory(params=-5)
