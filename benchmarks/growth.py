"""Growth benchmark: how time and memory of each pipeline stage grow with line items.

    python benchmarks/growth.py --engine duckdb --rows 1000000 10000000 50000000
    python benchmarks/growth.py --engine spark --rows 1000000 10000000

For each size, writes FOCUS 1.2 Parquet files of at most 5M rows (one billing account per
file, so a size is one export over several accounts; mlcost.testing.write_focus_file), then
runs each stage in its own process against a fresh warehouse:

- ``ingest``: ``mlcost.ingest_focus`` of all files as one export;
- ``spend``: ``mlcost.spend(by=[ServiceProviderName, ServiceName, tag:team])`` to Arrow,
  the best of ``--repeat`` runs;
- ``showback``: ``mlcost.attribution.showback`` of the month (allocate every line item into
  ``allocated_costs``, then the statements and their reconciliation), owners from ``team``;
- ``insights``: ``mlcost.insights.run_insights`` over the month (every detector).

``--stages`` picks stages (all by default). The files carry no GPU telemetry or workloads, so
showback here measures the split of every line item, the tag rules and the writes, not the
GPU share join (which grows with workloads and samples, not line items).

Time excludes interpreter and engine start (the Spark session, the DuckDB file open). Peak
memory is the stage process's VmHWM, plus, on Spark, the local JVM's (driver and executors
live in it). The growth exponent is the least-squares slope of log(time) on log(rows):
1.0 is linear. Prints a Markdown table; --json prints the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import _peak_rss_kib

CHUNK = 5_000_000
DIMS = ["ServiceProviderName", "ServiceName", "tag:team"]


def _url(engine: str, work: Path, driver_memory: str) -> str:
    if engine == "duckdb":
        return f"duckdb://{work / 'warehouse.duckdb'}"
    return (
        f"spark://local[2]?warehouse_dir={work / 'spark-warehouse'}"
        f"&spark.driver.memory={driver_memory}"
    )


def _ingest(url: str, files: list[str]) -> Callable[[], object]:
    from mlcost import ingest_focus, open_warehouse

    wh = open_warehouse(url)
    return lambda: ingest_focus(wh, files)


def _spend(url: str, files: list[str]) -> Callable[[], object]:
    from mlcost import open_warehouse, spend

    wh = open_warehouse(url, read_only=True)
    return lambda: spend(wh, by=DIMS).to_pyarrow()


MONTH = "2026-05"  # write_focus_file's billing period


def _showback(url: str, files: list[str]) -> Callable[[], object]:
    from mlcost import open_warehouse
    from mlcost.attribution import showback
    from mlcost.config import AttributionConfig

    wh = open_warehouse(url)
    return lambda: showback(wh, AttributionConfig(), MONTH)


def _insights(url: str, files: list[str]) -> Callable[[], object]:
    from mlcost import open_warehouse
    from mlcost.attribution.allocate import month_window
    from mlcost.insights import run_insights

    wh = open_warehouse(url, read_only=True)
    start, end = month_window(MONTH)
    return lambda: run_insights(wh, start=start, end=end)


STAGES = {"ingest": _ingest, "spend": _spend, "showback": _showback, "insights": _insights}
REPEATED = ("spend",)  # read-only and quick: the best of --repeat runs


def _jvm_peak_kib() -> int:
    """VmHWM of this process's child JVM (a local Spark session), 0 if there is none."""
    me = str(os.getpid())
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[1] != me:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except (OSError, IndexError):
            continue
    return total


def _child(stage: str, url: str, files: list[str], repeat: int) -> None:
    work = STAGES[stage](url, files)
    seconds = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        seconds = min(seconds, time.perf_counter() - start)
    peak = _peak_rss_kib() + _jvm_peak_kib()
    print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024}))


def _run(stage: str, url: str, files: list[Path], repeat: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", stage, url, str(repeat), *map(str, files)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"{stage} failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _files(work: Path, rows: int) -> list[Path]:
    from mlcost.testing import write_focus_file

    files = []
    for k, start in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - start)
        path = work / f"focus-{n}-acct{k}.parquet"
        if not path.exists():
            print(f"writing {n:,} rows to {path} ...", file=sys.stderr)
            write_focus_file(path, n, account=f"acct-{k}")
        files.append(path)
    return files


def exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(y) on log(rows); None with fewer than two sizes."""
    if len(points) < 2:
        return None
    xs = [math.log(r) for r, _ in points]
    ys = [math.log(max(y, 1e-9)) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--repeat", type=int, default=3, help="spend runs; the best is kept")
    parser.add_argument("--driver-memory", default="6g", help="Spark driver (local JVM) heap")
    parser.add_argument("--stages", nargs="+", choices=list(STAGES), default=list(STAGES))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        stage, url, repeat, *files = args.child
        _child(stage, url, files, int(repeat))
        return

    base = args.dir or Path(tempfile.mkdtemp(prefix="mlcost-growth-"))
    results: dict[int, dict[str, dict[str, float]]] = {}
    for rows in sorted(args.rows):
        data = base / "data"
        data.mkdir(parents=True, exist_ok=True)
        files = _files(data, rows)
        work = base / f"{args.engine}-{rows}"
        subprocess.run(["rm", "-rf", str(work)], check=True)
        work.mkdir(parents=True)
        url = _url(args.engine, work, args.driver_memory)
        # In order: showback reads what ingest wrote (and insights what showback did).
        results[rows] = {
            stage: _run(stage, url, files, args.repeat if stage in REPEATED else 1)
            for stage in STAGES
            if stage in args.stages or stage == "ingest"
        }
        print(f"{rows:,}: {json.dumps(results[rows])}", file=sys.stderr, flush=True)
        subprocess.run(["rm", "-rf", str(work)], check=True)
    slopes = {
        stage: exponent([(r, v[stage]["seconds"]) for r, v in results.items() if stage in v])
        for stage in STAGES
        if any(stage in v for v in results.values())
    }
    if args.json:
        print(json.dumps({"engine": args.engine, "results": results, "exponents": slopes}))
        return
    print("| engine | line items | stage | seconds | rows/s | peak MiB |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for rows, stages in results.items():
        for stage, v in stages.items():
            rate = rows / v["seconds"]
            print(
                f"| {args.engine} | {rows:,} | {stage} | {v['seconds']:.2f} | {rate:,.0f} "
                f"| {v['peak_mib']:,.0f} |"
            )
    for stage, slope in slopes.items():
        print(f"growth exponent, {stage}: {'n/a' if slope is None else f'{slope:.2f}'}")


if __name__ == "__main__":
    main()
