"""Exact mode (fake-tensor trace on the CPU) against the H200 training cases.

    PYTHONPATH=src python benchmarks/exact_vs_measured.py

For each full-training case of ``tests/data/memory/h200_measured.json`` (LoRA cases need PEFT
in the trace and are left out), builds the model from its config, traces two steps with
``mlcost.plan.exact.trace_request`` and prints the traced peak against ``max_allocated_bytes``
and the process estimate against ``max_reserved_bytes`` + the machine's CUDA context. Needs
PyTorch and transformers; about a minute per case on one core.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mlcost.plan import MemoryRequest
from mlcost.plan.exact import trace_request

DATA = Path(__file__).resolve().parents[1] / "tests/data/memory"


def main() -> None:
    measured = json.loads((DATA / "h200_measured.json").read_text())
    ctx = measured["env"]["used_after_init_bytes"]
    for c in measured["cases"]:
        if c["mode"] != "train":
            continue
        start = time.perf_counter()
        req = MemoryRequest(
            config=DATA / "h200-configs" / f"{c['config']}.json",
            precision=c["precision"],
            optimizer=c["optimizer"],
            batch=c["batch"],
            seq=c["seq"],
            grad_checkpointing=c["grad_checkpointing"],
        )
        est = trace_request(req)
        traced = est.inputs["traced_peak_bytes"]
        alloc = c["max_allocated_bytes"]
        held = c["max_reserved_bytes"] + ctx
        total = traced + est.breakdown["allocator_reserve"] + ctx
        print(
            f"{c['name']:28s} traced {traced / 2**30:6.2f} GiB vs allocated {alloc / 2**30:6.2f} "
            f"({(traced - alloc) / alloc:+.1%}); process {total / 2**30:6.2f} vs "
            f"{held / 2**30:6.2f} ({(total - held) / held:+.1%}) "
            f"[{time.perf_counter() - start:.0f} s]",
            flush=True,
        )


if __name__ == "__main__":
    main()
