"""Overhead of the tracker on a training step (goal: under 1% of a step).

    python benchmarks/tracker.py [--steps 300] [--repeats 5] [--hidden 512] [--batch 64]

Trains a small MLP on the CPU with PyTorch, alternating runs without and with the tracker
(``run.step(loss=...)`` every step; the sampling thread every ``--interval`` seconds, 0.05 by
default, a hundred times more often than the default 5 s, to make its share visible). Prints the
median step time of each, their difference, and the cost of one ``run.step()`` call on its own.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
from typing import Any

from mlcost.runtime import track


def _loop(torch: Any, model: Any, opt: Any, x: Any, y: Any, steps: int, run: Any) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if run is not None:
            run.step(loss=loss.item())
        else:
            loss.item()  # the same host sync as the tracked loop
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--flush", type=float, default=0.5, help="seconds between spool files")
    a = parser.parse_args()

    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(a.hidden, a.hidden), torch.nn.ReLU(), torch.nn.Linear(a.hidden, 1)
    )
    opt = torch.optim.AdamW(model.parameters())
    x, y = torch.randn(a.batch, a.hidden), torch.randn(a.batch, 1)
    _loop(torch, model, opt, x, y, 50, None)  # warm-up
    spool = tempfile.mkdtemp()
    plain, tracked = [], []
    for _ in range(a.repeats):
        plain.append(_loop(torch, model, opt, x, y, a.steps, None))
        with track(
            "bench",
            hourly_price=32.77,
            max_cost=10**6,
            spool=spool,
            detect=False,
            interval=a.interval,
            flush_seconds=a.flush,
        ) as run:
            tracked.append(_loop(torch, model, opt, x, y, a.steps, run))
    p, t = statistics.median(plain), statistics.median(tracked)
    with track("bench-call", hourly_price=1, max_cost=10**6, spool=spool, detect=False) as run:
        n = 200_000
        per_call = timeit.timeit(lambda: run.step(loss=0.5), number=n) / n
    print(f"torch {torch.__version__}, MLP {a.hidden}x{a.hidden}, batch {a.batch}, 1 thread")
    print(f"step without tracker: {p * 1e3:.3f} ms (median of {a.repeats} x {a.steps} steps)")
    print(
        f"step with tracker:    {t * 1e3:.3f} ms "
        f"(sampling every {a.interval} s, a spool file every {a.flush} s)"
    )
    print(f"difference:           {100 * (t - p) / p:+.2f}% of a step (medians)")
    lo_p, lo_t = min(plain), min(tracked)
    print(
        f"fastest of each:      {lo_p * 1e3:.3f} vs {lo_t * 1e3:.3f} ms, "
        f"{100 * (lo_t - lo_p) / lo_p:+.2f}%"
    )
    print(f"one run.step(loss=…): {per_call * 1e6:.2f} µs = {100 * per_call / p:.3f}% of a step")


if __name__ == "__main__":
    main()
