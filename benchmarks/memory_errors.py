"""The memory estimator's error on both validation sets, case by case (nothing is fitted).

    PYTHONPATH=src python benchmarks/memory_errors.py

- the H200 set (``tests/data/memory/h200_measured.json``): ``per_gpu_bytes`` against what the
  process held, ``max_reserved_bytes`` + that machine's CUDA context;
- the published set (``tests/plan/data/published_peaks.csv``): each row against what its
  source measured (the whole process, allocated tensors, weights or a KV pool).

``tests/plan/test_memory_measured.py`` and ``tests/plan/test_memory.py`` assert the bounds.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

from mlcost.plan import estimate_memory, model_from_config

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "tests/data/memory"
PUBLISHED = ROOT / "tests/plan/data/published_peaks.csv"
GIB = 2**30


def h200() -> list[float]:
    data = json.loads((MEASURED / "h200_measured.json").read_text())
    ctx = data["env"]["used_after_init_bytes"]
    errors = []
    for c in data["cases"]:
        est = estimate_memory(
            model_from_config(MEASURED / "h200-configs" / f"{c['config']}.json"),
            mode=c["mode"],
            precision=c["precision"],
            optimizer=c["optimizer"] or "adamw",
            batch=c["batch"],
            seq=c["seq"],
            grad_checkpointing=c["grad_checkpointing"],
            kv_tokens=c["seq"] + 2 if c["mode"] == "infer" else None,
            cuda_context_bytes=ctx,
        )
        held = c["max_reserved_bytes"] + ctx
        b = est.breakdown
        alloc = est.per_gpu_bytes - b["cuda_context"] - b.get("allocator_reserve", 0)
        err = (est.per_gpu_bytes - held) / held
        errors.append(abs(err))
        print(
            f"  {c['name']:30s} {est.per_gpu_bytes / GIB:7.2f} GiB vs {held / GIB:7.2f} "
            f"({err:+.1%}); allocated {alloc / GIB:6.2f} vs "
            f"{c['max_allocated_bytes'] / GIB:6.2f} "
            f"({(alloc - c['max_allocated_bytes']) / c['max_allocated_bytes']:+.1%})"
        )
    return errors


def published() -> list[float]:
    errors = []
    for r in csv.DictReader(PUBLISHED.read_text().splitlines()):
        est = estimate_memory(
            r["model"],
            mode=r["mode"],
            precision=r["precision"],
            optimizer=r["optimizer"] or "adamw",
            batch=int(r["batch"]),
            seq=int(r["seq"]),
            grad_checkpointing=r["grad_checkpointing"] == "yes",
            gpus=int(r["gpus"]),
            tp=int(r["tp"]),
            attention=r["attention"],  # type: ignore[arg-type]
            foreach_optimizer=r["foreach"] == "yes",
            engine=r["engine"],
            gpu_memory_gib=float(r["gpu_memory_gib"]) if r["gpu_memory_gib"] else None,
            max_num_batched_tokens=int(r["max_num_batched_tokens"] or 8192),
            lora_rank=int(r["lora_rank"] or 16),
            lora_targets=r["lora_targets"] or "attn",
            loss_chunks=int(r["loss_chunks"] or 1),
            optimizer_in_backward=r["optimizer_in_backward"] == "yes",
            paged_optimizer=r["paged_optimizer"] == "yes",
            compiled_loss=r["compiled_loss"] == "yes",
        )
        b = est.breakdown
        got = {
            "process": est.per_gpu_bytes,
            "allocated": est.per_gpu_bytes - b["cuda_context"] - b.get("allocator_reserve", 0),
            "weights": b["weights"],
            "weights+context": b["weights"] + b["cuda_context"],
            "kv_pool": b.get("kv_cache", 0),
        }[r["scope"]] / GIB
        want = float(r["measured_gib"])
        errors.append(abs(got - want) / want)
        print(f"  {r['id']:30s} {got:7.2f} GiB vs {want:7.2f} ({(got - want) / want:+.1%})")
    return errors


def main() -> None:
    for name, run in (("H200 measured", h200), ("published", published)):
        print(name)
        errors = run()
        p75 = statistics.quantiles(errors, n=4)[2]
        print(
            f"  -> {len(errors)} cases: median {statistics.median(errors):.1%}, "
            f"75th percentile {p75:.1%}, largest {max(errors):.1%}\n"
        )


if __name__ == "__main__":
    main()
