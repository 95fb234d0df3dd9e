"""Telemetry ingest benchmark: nvidia-smi logs or DCGM OpenMetrics files of many GPUs.

Writes ``--hosts`` logs of ``--gpus`` GPUs each, one sample a minute for ``--days`` days (the
default, 125 hosts x 4 GPUs x 30 days, is 21.6 million samples), then loads them at 60 s
resolution and reports samples/s, the process's CPU seconds and its peak memory. With
``--format openmetrics`` the files are DCGM-exporter exposition text (four metrics a sample,
one line each) loaded with ``ingest_prometheus``.

    python benchmarks/telemetry.py --fraction 0.25 --dir /tmp/mlcost-bench
    python benchmarks/telemetry.py --format openmetrics --fraction 0.02 --dir /tmp/mlcost-om
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

HEADER = (
    "timestamp, index, uuid, name, utilization.gpu [%], memory.used [MiB], "
    "memory.total [MiB], power.draw [W]\n"
)


def write_logs(
    folder: Path,
    hosts: int,
    gpus: int,
    minutes: int,
    seed: int = 0,
    *,
    interval: int = 60,
    name: Callable[[int], str] = lambda h: f"bench-host-{h:04d}",
    total: int | None = None,
) -> int:
    """One nvidia-smi CSV per host (``name(h)``.csv), a sample of each GPU every ``interval``
    seconds; ``total`` GPUs in all (the last host holds the rest) or ``gpus`` on every host.
    Returns the number of samples written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    start = datetime(2026, 5, 1)
    steps = minutes * 60 // interval
    stamps = [
        (start + timedelta(seconds=k * interval)).strftime("%Y/%m/%d %H:%M:%S.000")
        for k in range(steps)
    ]
    utils = [f"{u} %" for u in range(101)]
    written = 0
    for h in range(hosts):
        n = gpus if total is None else min(gpus, total - h * gpus)
        uuids = [f"GPU-{rng.getrandbits(128):032x}" for _ in range(n)]
        lines = [HEADER]
        base = rng.randint(0, 100)
        for m, stamp in enumerate(stamps):
            util = (base + m) % 101
            for g in range(n):
                lines.append(
                    f"{stamp}, {g}, {uuids[g]}, NVIDIA H100 80GB HBM3, {utils[util]}, "
                    f"{40000 + util * 300} MiB, 81559 MiB, {150 + util * 5}.00 W\n"
                )
            if len(lines) > 200_000:
                _append(folder / f"{name(h)}.csv", lines)
                lines = []
        _append(folder / f"{name(h)}.csv", lines)
        written += n * steps
    return written


def write_openmetrics(folder: Path, hosts: int, gpus: int, minutes: int, seed: int = 0) -> int:
    """One DCGM-exporter exposition file per host (``bench-host-NNNN.om.txt``): utilization,
    framebuffer used and free, and power of each GPU every minute, grouped by metric family as
    an exporter's history dump is. Returns the number of (GPU, minute) samples written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    t0 = int(datetime(2026, 5, 1).timestamp())
    for h in range(hosts):
        host = f"bench-host-{h:04d}"
        series = [
            f'gpu="{g}",UUID="GPU-{rng.getrandbits(128):032x}",device="nvidia{g}",'
            f'modelName="NVIDIA H100 80GB HBM3",Hostname="{host}",'
            'DCGM_FI_DRIVER_VERSION="550.54.15"'
            for g in range(gpus)
        ]
        base = rng.randint(0, 100)
        families = (
            ("DCGM_FI_DEV_GPU_UTIL", lambda u: f"{u}"),
            ("DCGM_FI_DEV_FB_USED", lambda u: f"{40000 + u * 300}"),
            ("DCGM_FI_DEV_FB_FREE", lambda u: f"{41559 - u * 300}"),
            ("DCGM_FI_DEV_POWER_USAGE", lambda u: f"{150 + u * 5}.25"),
        )
        path = folder / f"{host}.om.txt"
        for name, value in families:
            lines = [f"# TYPE {name} gauge\n"]
            for labels in series:
                for m in range(minutes):
                    u = (base + m) % 101
                    lines.append(f"{name}{{{labels}}} {value(u)} {t0 + 60 * m}\n")
                if len(lines) > 200_000:
                    _append(path, lines)
                    lines = []
            _append(path, lines)
    return hosts * gpus * minutes


def _append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.writelines(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=125)
    parser.add_argument("--gpus", type=int, default=4)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the days to run")
    parser.add_argument("--dir", type=Path, default=None, help="where to write logs (kept)")
    parser.add_argument(
        "--format", choices=("nvidia-smi", "openmetrics"), default="nvidia-smi", dest="kind"
    )
    args = parser.parse_args()

    from mlcost import open_warehouse
    from mlcost.sources.nvidia_smi import ingest_nvidia_smi
    from mlcost.sources.prometheus import ingest_prometheus

    minutes = int(args.days * args.fraction * 24 * 60)
    root = args.dir or Path(tempfile.mkdtemp(prefix="mlcost-bench-"))
    logs = root / "logs"
    if not logs.exists():
        t0 = time.perf_counter()
        if args.kind == "openmetrics":
            n = write_openmetrics(logs, args.hosts, args.gpus, minutes)
        else:
            n = write_logs(logs, args.hosts, args.gpus, minutes)
        print(f"wrote {n:,} samples in {time.perf_counter() - t0:.1f} s")
    n = args.hosts * args.gpus * minutes
    size = sum(p.stat().st_size for p in logs.iterdir())
    db = root / "bench.duckdb"
    for p in root.glob("bench.duckdb*"):
        p.unlink()
    ingest = ingest_prometheus if args.kind == "openmetrics" else ingest_nvidia_smi
    with open_warehouse(f"duckdb://{db}") as wh:
        cpu0 = _cpu()
        t0 = time.perf_counter()
        result = ingest(wh, [logs], resolution=60)
        seconds = time.perf_counter() - t0
        cpu = _cpu() - cpu0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"loaded {n:,} {args.kind} samples ({size / 2**30:.2f} GiB, {args.hosts} files) into "
        f"{result.tables['gpu_samples']:,} rows in {seconds:.1f} s: {n / seconds:,.0f} samples/s, "
        f"{cpu:.1f} CPU s ({n / cpu:,.0f} samples per CPU second), peak RSS {peak_mib:,.0f} MiB, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def _cpu() -> float:
    """CPU seconds of this process, all threads (the engine's included)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


if __name__ == "__main__":
    main()
