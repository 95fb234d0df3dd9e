"""Speed and agreement of the spot Monte Carlo simulation.

    python benchmarks/spot.py [--runs 100000]

Prints, per case, the closed-form expected wall hours, the simulated mean, their difference, and
the time to simulate ``--runs`` jobs. Goal: 100,000 runs in under a second (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import statistics
import time

from mlcost.plan.spot import daly_interval, expected_hours, rate_from_bucket, simulate

CASES = [  # (work hours, interruptions/hour, checkpoint h, restart h)
    (24, 0.01, 2 / 60, 10 / 60),
    (100, 0.05, 5 / 60, 0.25),
    (10, 0.2, 0.1, 0.2),
    (200, rate_from_bucket(">20%"), 0.1, 0.3),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    runs = parser.parse_args().runs
    for work, rate, c, r in CASES:
        m = 1 / rate
        tau = min(daly_interval(c, m), work)
        closed = expected_hours(work, tau, c, r, m)
        start = time.perf_counter()
        mean = statistics.fmean(simulate(work, tau, c, r, m, runs=runs))
        took = time.perf_counter() - start
        print(
            f"W={work:>4}h rate={rate:.5f}/h closed={closed:9.3f}h mc={mean:9.3f}h "
            f"diff={100 * (mean - closed) / closed:+.3f}% {runs} runs in {took:.3f}s"
        )


if __name__ == "__main__":
    main()
