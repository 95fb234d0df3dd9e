"""GPU check of the tracker: a real training loop on CUDA, three peak-memory figures, as JSON.

    PYTHONPATH=src python benchmarks/gpu_tracker_check.py [--steps 30] [--batch 8] [--seq 1024]

Needs a CUDA GPU, PyTorch with CUDA and ``nvidia-ml-py`` (``pip install nvidia-ml-py``; 60 kB,
pure Python). Trains a small Llama-shaped decoder (plain PyTorch, random weights: nothing is
downloaded) with bf16 autocast and AdamW, under ``mlcost.track``, and prints:

- ``tracker_peak_memory_bytes``: the tracker's NVML peak (device memory used, so it includes
  the CUDA context, the caching allocator's reserve and any other process on the GPU);
- ``nvml_used_before_bytes``: device memory already used before this process touched CUDA;
- ``torch_max_memory_allocated`` / ``torch_max_memory_reserved``: PyTorch's own peaks;
- ``estimate_bytes``: ``mlcost.plan.memory.estimate_memory`` for the same architecture, batch,
  sequence, precision and optimizer (it includes the CUDA context and allocator slack), and
  ``exact_estimate_bytes`` from ``trace_training_step`` (fake tensors, no GPU);
- step times without and with the tracker (sampling every 0.2 s), for the overhead on a GPU.

Compare ``tracker_peak_memory_bytes - nvml_used_before_bytes`` with the estimate and with
``torch_max_memory_reserved`` (+ CUDA context).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from typing import Any


def build(torch: Any, layers: int, hidden: int, heads: int, inter: int, vocab: int) -> Any:
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.n1, self.n2 = nn.RMSNorm(hidden), nn.RMSNorm(hidden)
            self.qkv = nn.Linear(hidden, 3 * hidden, bias=False)
            self.o = nn.Linear(hidden, hidden, bias=False)
            self.gate_up = nn.Linear(hidden, 2 * inter, bias=False)
            self.down = nn.Linear(inter, hidden, bias=False)

        def forward(self, x: Any) -> Any:
            b, s, _ = x.shape
            q, k, v = self.qkv(self.n1(x)).view(b, s, 3, heads, -1).unbind(2)
            a = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
            )
            x = x + self.o(a.transpose(1, 2).reshape(b, s, hidden))
            g, u = self.gate_up(self.n2(x)).chunk(2, dim=-1)
            return x + self.down(F.silu(g) * u)

    class Decoder(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(vocab, hidden)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm = nn.RMSNorm(hidden)
            self.head = nn.Linear(hidden, vocab, bias=False)

        def forward(self, ids: Any) -> Any:
            x = self.emb(ids)
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x))

    return Decoder()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--inter", type=int, default=2816)
    p.add_argument("--vocab", type=int, default=32000)
    a = p.parse_args()

    from mlcost.runtime import open_nvml, track

    nvml, why = open_nvml()
    before = None
    if nvml is not None:
        before = max(r.memory_used_bytes or 0 for r in nvml.read())
        nvml.close()

    import torch

    if not torch.cuda.is_available():
        raise SystemExit("No CUDA device: run this on the GPU machine.")
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = build(torch, a.layers, a.hidden, a.heads, a.inter, a.vocab).to(dev)
    params = sum(t.numel() for t in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), device=dev)

    def step() -> Any:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits.float().view(-1, a.vocab), ids.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    def timed(n: int, run: Any = None) -> float:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            loss = step()
            if run is not None:
                run.step(loss=loss.item())
            else:
                loss.item()
        torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n

    timed(3)  # warm-up: kernels, optimizer states, allocator
    torch.cuda.reset_peak_memory_stats()
    plain = timed(a.steps)
    spool = tempfile.mkdtemp()
    with track("gpu-check", spool=spool, detect=False, interval=0.2, hourly_price=1.0) as run:
        tracked = timed(a.steps, run)
        time.sleep(0.5)  # one more sample after the last step
    allocated = torch.cuda.max_memory_allocated()
    reserved = torch.cuda.max_memory_reserved()

    from mlcost.plan._models import ModelSpec
    from mlcost.plan.memory import estimate_memory

    spec = ModelSpec("gpu-check", params, a.layers, a.hidden, a.heads, a.heads, a.vocab, a.inter)
    est = estimate_memory(
        spec, mode="train", precision="amp-bf16", optimizer="adamw", batch=a.batch, seq=a.seq
    )
    exact: int | None = None
    exact_error = None
    try:
        from mlcost.plan.exact import trace_training_step

        exact = trace_training_step(
            lambda: build(torch, a.layers, a.hidden, a.heads, a.inter, a.vocab),
            lambda: (torch.randint(0, a.vocab, (a.batch, a.seq)),),
        ).per_gpu_bytes
    except Exception as exc:  # report, do not hide the other figures
        exact_error = f"{type(exc).__name__}: {exc}"

    gib = 2**30
    out = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "params": params,
        "batch": a.batch,
        "seq": a.seq,
        "tracker_gpu_reason": run.gpu_reason or why or None,
        "tracker_gpu_count": run.gpu_count,
        "tracker_peak_memory_bytes": run.peak_memory_bytes,
        "nvml_used_before_bytes": before,
        "torch_max_memory_allocated": allocated,
        "torch_max_memory_reserved": reserved,
        "estimate_bytes": est.per_gpu_bytes,
        "estimate_breakdown_gib": {k: round(v / gib, 3) for k, v in est.breakdown.items()},
        "exact_estimate_bytes": exact,
        "exact_error": exact_error,
        "used_gpu_hours": run.used_gpu_hours,
        "gpu_hours": run.gpu_hours,
        "step_ms_without_tracker": round(plain * 1e3, 3),
        "step_ms_with_tracker": round(tracked * 1e3, 3),
        "overhead_pct": round(100 * (tracked - plain) / plain, 3),
    }
    peak = run.peak_memory_bytes
    if peak is not None:
        own = peak - (before or 0)
        out["tracker_own_peak_bytes"] = own
        out["estimate_error_vs_tracker_pct"] = round(100 * (est.per_gpu_bytes - own) / own, 1)
    out["estimate_error_vs_reserved_pct"] = round(
        100 * (est.per_gpu_bytes - reserved) / reserved, 1
    )
    assert math.isfinite(out["overhead_pct"])  # type: ignore[arg-type]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
