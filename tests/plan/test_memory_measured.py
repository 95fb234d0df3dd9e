"""The memory estimator against ten steps measured on an NVIDIA H200 (tests/data/memory,
SOURCES.md there): what the process held at its peak is ``max_reserved_bytes`` plus that
machine's CUDA context. Nothing in the estimator is fitted to these cases."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from mlcost.plan import estimate_memory, model_from_config

DATA = Path(__file__).parents[1] / "data/memory"
MEASURED = json.loads((DATA / "h200_measured.json").read_text())
CASES: list[dict[str, Any]] = MEASURED["cases"]
CONTEXT = int(MEASURED["env"]["used_after_init_bytes"])


def estimate(case: dict[str, Any]) -> int:
    spec = model_from_config(DATA / "h200-configs" / f"{case['config']}.json")
    est = estimate_memory(
        spec,
        mode=case["mode"],
        precision=case["precision"],
        optimizer=case["optimizer"] or "adamw",
        batch=case["batch"],
        seq=case["seq"],
        grad_checkpointing=case["grad_checkpointing"],
        # generate(max_new_tokens=2): the cache holds the prompt and the new tokens.
        kv_tokens=case["seq"] + 2 if case["mode"] == "infer" else None,
        cuda_context_bytes=CONTEXT,
    )
    return est.per_gpu_bytes


def error(case: dict[str, Any]) -> float:
    held = case["max_reserved_bytes"] + CONTEXT
    return abs(estimate(case) - held) / held


def test_ten_cases_from_their_source() -> None:
    assert len(CASES) == 10
    assert MEASURED["env"]["gpu"] == "NVIDIA H200"


def test_median_and_upper_quartile_of_the_error() -> None:
    errors = [error(c) for c in CASES]
    assert statistics.median(errors) <= 0.08
    assert statistics.quantiles(errors, n=4)[2] <= 0.15


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_each_case_within_thirty_percent(case: dict[str, Any]) -> None:
    assert error(case) <= 0.30


def test_parameter_counts_match_the_built_models() -> None:
    # The configs' shapes give the parameter counts the measurement printed (within biases
    # and position embeddings).
    for case in CASES:
        spec = model_from_config(DATA / "h200-configs" / f"{case['config']}.json")
        assert spec.params == pytest.approx(case["params"], rel=0.01), case["config"]


def test_generate_counts_last_position_logits_only() -> None:
    # Qwen2.5-1.5B, 32 x 2048: every position's logits with an fp32 copy would be 64 GiB.
    case = next(c for c in CASES if c["name"] == "qwen15-infer-b32s2048")
    est = estimate(case)
    assert est < 2 * (case["max_reserved_bytes"] + CONTEXT)
