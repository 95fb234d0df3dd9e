"""Fleet benchmark: a GPU fleet's month through every stage of the pipeline, stage by stage.

    python benchmarks/fleet.py --line-items 1000000 --gpus 100 --dir /tmp/fleet
    python benchmarks/fleet.py --line-items 10000000 --gpus 1000 --interval 60 --workloads 20000

Generates the month (May 2026) in the formats the sources read, into ``--dir`` (kept, and
reused when the same sizes are asked again):

- ``bills/``: FOCUS 1.2 Parquet, at most 5M rows a file (one billing account each,
  ``mlcost.testing.write_focus_file``), plus ``gpu-hosts.parquet``: each GPU host's hourly
  on-demand line (``p5.48xlarge``, 8 H100s, ResourceId ``i-fleetNNNNN``) for every hour of the
  month. The two together are ``--line-items`` rows;
- ``telemetry/``: one ``nvidia-smi --query-gpu=... --format=csv -l INTERVAL`` log per host
  (units in the values, one line per GPU per sample), named by its instance id;
- ``workloads/sacct.txt``: ``--workloads`` Slurm jobs (``sacct --parsable2``) on those hosts,
  each tagged with a team;
- ``mlcost.toml``: owners from ``team``, a monthly budget per team.

Then runs each stage as its own ``mlcost`` command (a fresh process, as a user or a cron job
runs it) against one warehouse, in order, and prints seconds, rows/s and the stage process's
peak memory (its VmHWM, read when it exits; for the API stage, the server's):

1. ``ingest bills``: ``mlcost ingest focus bills/``
2. ``ingest telemetry``: ``mlcost ingest nvidia-smi telemetry/`` (rows: samples)
3. ``ingest workloads``: ``mlcost ingest slurm workloads/sacct.txt`` (rows: jobs)
4. ``showback``: ``mlcost showback --month 2026-05 --format json`` (rows: line items)
5. ``insights``: ``mlcost insights --from 2026-05-01 --to 2026-06-01 --format json``
6. ``budgets``: ``mlcost budgets status --format json``
7. ``report``: ``mlcost report weekly --week 2026-W20 --no-rebuild --out report.html``
8. ``api``: ``mlcost serve`` under ``--clients`` clients for ``--seconds``
   (``benchmarks/api_load.py``'s load, cached mix; rows: requests), p50 / p95 in the notes.

``--engine spark`` runs the same commands against a local Spark warehouse (``local[2]``); a
stage the engine refuses prints "not supported", one that fails "failed", each with the last
line the command printed, and the next stages still run. Peak memory on Spark adds the local
JVM's (driver and executors live in it).
``--json`` prints the figures as one object. Time includes each process's start (imports,
opening the warehouse): what a user waits for.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from growth import _url

MONTH = datetime(2026, 5, 1)
HOURS = 31 * 24
CHUNK = 5_000_000
GPUS_PER_HOST = 8
TEAMS = ("search", "recommendations", "llm-platform", "vision", "data-eng")
NOT_SUPPORTED = ("does not offer", "not supported", "use a DuckDB warehouse")


# -- the month ---------------------------------------------------------------------------------
def host_name(h: int) -> str:
    return f"i-fleet{h:05d}"


def write_bills(folder: Path, line_items: int, hosts: int) -> list[Path]:
    """FOCUS Parquet: the generic line items, then the GPU hosts' hourly lines."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from mlcost.testing import focus_table, write_focus_file

    folder.mkdir(parents=True, exist_ok=True)
    gpu_rows = hosts * HOURS
    generic = max(line_items - gpu_rows, 0)
    files = []
    for k, start in enumerate(range(0, generic, CHUNK)):
        n = min(CHUNK, generic - start)
        files.append(write_focus_file(folder / f"focus-{k}.parquet", n, account=f"acct-{k}"))
    if gpu_rows:
        t = focus_table(gpu_rows, account="acct-gpu")
        idx = pa.array(range(gpu_rows), type=pa.int64())
        host = pc.divide(idx, HOURS)
        hour = pc.subtract(idx, pc.multiply(host, HOURS))
        start_s = int(MONTH.timestamp()) + 0  # naive May 1st, read as UTC
        begin = pc.cast(pc.add(pc.multiply(hour, 3600), start_s), pa.timestamp("s", tz="UTC"))
        end = pc.cast(pc.add(pc.multiply(hour, 3600), start_s + 3600), pa.timestamp("s", tz="UTC"))
        names = pc.binary_join_element_wise(
            "i-fleet", pc.utf8_lpad(pc.cast(host, pa.string()), 5, "0"), ""
        )
        cost = pa.repeat(98.32, gpu_rows)
        teams = pc.take(pa.array(TEAMS), pc.remainder(host, len(TEAMS)))
        replace = {
            "ResourceId": names,
            "ResourceName": names,
            "ChargePeriodStart": begin,
            "ChargePeriodEnd": end,
            "ChargeDescription": pa.repeat(
                "$98.32 per On Demand Linux p5.48xlarge Instance Hour", gpu_rows
            ),
            "ServiceName": pa.repeat("Amazon Elastic Compute Cloud", gpu_rows),
            "ProviderName": pa.repeat("AWS", gpu_rows),
            "PublisherName": pa.repeat("AWS", gpu_rows),
            "InvoiceIssuerName": pa.repeat("AWS", gpu_rows),
            "BilledCost": cost,
            "EffectiveCost": cost,
            "ContractedCost": cost,
            "ContractedUnitPrice": cost,
            "ListCost": cost,
            "ListUnitPrice": cost,
            "PricingCurrencyEffectiveCost": cost,
            "PricingCurrencyContractedUnitPrice": cost,
            "PricingCurrencyListUnitPrice": cost,
            "Tags": pc.binary_join_element_wise('{"team": "', teams, '"}', ""),
        }
        for name, column in replace.items():
            t = t.set_column(t.schema.get_field_index(name), name, column)
        path = folder / "gpu-hosts.parquet"
        pq.write_table(t, path, row_group_size=256 * 1024)
        files.append(path)
    return files


def write_telemetry(folder: Path, gpus: int, interval: int, seed: int = 0) -> int:
    """One nvidia-smi CSV log per host for the month; returns the number of samples."""
    from telemetry import write_logs

    hosts = (gpus + GPUS_PER_HOST - 1) // GPUS_PER_HOST
    return write_logs(
        folder,
        hosts,
        GPUS_PER_HOST,
        HOURS * 60,
        seed,
        interval=interval,
        name=host_name,
        total=gpus,
    )


def write_workloads(path: Path, jobs: int, hosts: int, seed: int = 0) -> int:
    """``jobs`` Slurm allocations (sacct --parsable2) spread over the hosts and the month."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    lines = [
        "JobID|JobName|User|Account|Partition|AllocTRES|NodeList|Submit|Start|End|Elapsed|"
        "State|ExitCode|Comment"
    ]
    for j in range(jobs):
        host = rng.randrange(max(hosts, 1))
        start = MONTH + timedelta(minutes=rng.randrange((HOURS - 24) * 60))
        seconds = rng.randint(600, 24 * 3600)
        end = start + timedelta(seconds=seconds)
        gpus = rng.choice((1, 2, 4, 8))
        team = TEAMS[j % len(TEAMS)]
        h, rest = divmod(seconds, 3600)
        lines.append(
            f"{100000 + j}|train-{j}|user{j % 40}|{team}|h100|"
            f"billing={gpus * 12},cpu={gpus * 12},gres/gpu={gpus},mem={gpus * 128}G,node=1|"
            f"{host_name(host)}|{start:%Y-%m-%dT%H:%M:%S}|{start:%Y-%m-%dT%H:%M:%S}|"
            f"{end:%Y-%m-%dT%H:%M:%S}|{h:02d}:{rest // 60:02d}:{rest % 60:02d}|COMPLETED|0:0|"
            f"team={team}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return jobs


CONFIG = """# The fleet benchmark's project: owners from the team tag, a monthly budget per team.
[attribution]
owner = "team"
{budgets}
"""


def write_config(folder: Path) -> None:
    budgets = "".join(
        f'\n[budgets.{t}]\nscope = {{ owner = "{t}" }}\namount = 1000000\ncurrency = "USD"\n'
        for t in TEAMS
    )
    (folder / "mlcost.toml").write_text(CONFIG.format(budgets=budgets), encoding="utf-8")


def generate(root: Path, line_items: int, gpus: int, interval: int, workloads: int) -> dict:
    """The month's files under ``root`` (reused when ``sizes.json`` says they match)."""
    sizes = {"line_items": line_items, "gpus": gpus, "interval": interval, "workloads": workloads}
    marker = root / "sizes.json"
    if marker.exists() and json.loads(marker.read_text()).get("sizes") == sizes:
        return dict(json.loads(marker.read_text()))
    subprocess.run(["rm", "-rf", str(root / "data")], check=True)
    data = root / "data"
    hosts = (gpus + GPUS_PER_HOST - 1) // GPUS_PER_HOST
    t0 = time.perf_counter()
    write_bills(data / "bills", line_items, hosts)
    samples = write_telemetry(data / "telemetry", gpus, interval)
    jobs = write_workloads(data / "workloads" / "sacct.txt", workloads, hosts)
    write_config(root)
    info = {
        "sizes": sizes,
        "line_items": max(line_items, hosts * HOURS),
        "samples": samples,
        "jobs": jobs,
        "generate_s": round(time.perf_counter() - t0, 1),
        "bytes": sum(p.stat().st_size for p in data.rglob("*") if p.is_file()),
    }
    marker.write_text(json.dumps(info))
    return info


# -- stages ------------------------------------------------------------------------------------
def _stages(info: dict, clients: int, seconds: float) -> list[tuple[str, list[str], int]]:
    """(stage, mlcost arguments, rows it handles)."""
    n = info["line_items"]
    return [
        ("ingest bills", ["ingest", "focus", "data/bills"], n),
        ("ingest telemetry", ["ingest", "nvidia-smi", "data/telemetry"], info["samples"]),
        ("ingest workloads", ["ingest", "slurm", "data/workloads/sacct.txt"], info["jobs"]),
        ("showback", ["showback", "--month", "2026-05", "--format", "json"], n),
        (
            "insights",
            ["insights", "--from", "2026-05-01", "--to", "2026-06-01", "--format", "json"],
            n,
        ),
        ("budgets", ["budgets", "status", "--format", "json"], n),
        (
            "report",
            ["report", "weekly", "--week", "2026-W20", "--no-rebuild", "--out", "report.html"],
            n,
        ),
        ("api", ["serve"], 0),
    ]


def _child(argv: list[str]) -> None:
    """Run one mlcost command in this process; write its exit status and peak memory."""
    import signal

    from mlcost.cli.main import main as mlcost

    # A server stopped by SIGTERM (uvicorn re-raises it after its shutdown) still reports; any
    # other stage stopped so has failed (143), not finished.
    stopped = 0 if argv[:1] == ["serve"] else 128 + signal.SIGTERM
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(stopped))
    out = Path(os.environ["FLEET_PEAK_FILE"])
    code = 1
    try:
        code = mlcost(argv)
    finally:
        from growth import _jvm_peak_kib
        from ingest import _peak_rss_kib

        # This process's VmHWM, plus a local Spark session's JVM (a child of this process).
        peak = _peak_rss_kib() + _jvm_peak_kib()
        out.write_text(json.dumps({"code": code, "peak_kib": peak}))
    sys.exit(code)


def _command(url: str, args: list[str]) -> list[str]:
    return [sys.executable, __file__, "--child", "--warehouse", url, *args]


def _run_stage(root: Path, url: str, args: list[str]) -> dict:
    peak_file = root / "peak.json"
    peak_file.unlink(missing_ok=True)
    env = {**os.environ, "FLEET_PEAK_FILE": str(peak_file)}
    t0 = time.perf_counter()
    out = subprocess.run(_command(url, args), cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    result = json.loads(peak_file.read_text()) if peak_file.exists() else {"peak_kib": 0}
    why = (out.stderr.strip().splitlines() or [""])[-1]
    if out.returncode:
        if any(s in out.stderr for s in NOT_SUPPORTED):
            return {"not_supported": why}
        # Reported, and the next stages still run (on Spark some stages fail outright).
        print(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-2000:]}", file=sys.stderr)
        return {"failed": why}
    return {"seconds": seconds, "peak_mib": result["peak_kib"] / 1024}


def _api_stage(root: Path, url: str, clients: int, seconds: float) -> dict:
    """``mlcost serve`` under load: a token, the server as a stage process, the clients."""
    import asyncio

    from api_load import QUERIES, free_port, load, wait_healthy

    peak_file = root / "peak.json"
    env = {**os.environ, "FLEET_PEAK_FILE": str(peak_file)}

    def token(scope: str, name: str) -> str:
        # `mlcost tokens create` in a child, like every stage: a local Spark session opened
        # here would live as long as this process and hold the Spark warehouse's embedded
        # metastore, which the server's own session then waits for.
        args = ["tokens", "create", "--scope", scope, "--name", name]
        out = subprocess.run(
            _command(url, args), cwd=root, env=env, capture_output=True, text=True, check=True
        )
        return out.stdout.strip().splitlines()[-1]

    tokens = {"all": token("read:all", "fleet-all"), "team": token(f"read:team:{TEAMS[0]}", "t")}
    port = free_port()
    peak_file.unlink(missing_ok=True)
    server = subprocess.Popen(
        _command(url, ["serve", "--port", str(port)]),
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port)
        t0 = time.perf_counter()
        result = asyncio.run(load(port, tokens, clients, seconds, QUERIES))
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=60)
    peak = json.loads(peak_file.read_text())["peak_kib"] if peak_file.exists() else 0
    return {
        "seconds": elapsed,
        "peak_mib": peak / 1024,
        "rows": result["requests"],
        "note": f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"{result['errors']} errors, {clients} clients"
        + (f" ({'; '.join(result['error_kinds'])})" if result["errors"] else ""),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--line-items", type=int, default=1_000_000)
    parser.add_argument("--gpus", type=int, default=100)
    parser.add_argument("--interval", type=int, default=60, help="seconds between samples")
    parser.add_argument("--workloads", type=int, default=2_000, help="Slurm jobs")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (kept)")
    parser.add_argument("--clients", type=int, default=50, help="API clients")
    parser.add_argument("--seconds", type=float, default=20.0, help="API load duration")
    parser.add_argument("--driver-memory", default="6g", help="Spark driver (local JVM) heap")
    parser.add_argument("--stages", nargs="+", default=None, help="only these (by name)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="mlcost-fleet-"))
    root.mkdir(parents=True, exist_ok=True)
    info = generate(root, args.line_items, args.gpus, args.interval, args.workloads)
    print(
        f"month: {info['line_items']:,} line items, {info['samples']:,} GPU samples, "
        f"{info['jobs']:,} jobs, {info['bytes'] / 2**30:.2f} GiB of files "
        f"(generated in {info['generate_s']} s)",
        file=sys.stderr,
    )
    for old in root.glob("warehouse.duckdb*"):
        old.unlink()
    subprocess.run(["rm", "-rf", str(root / "spark-warehouse")], check=True)
    url = _url(args.engine, root, args.driver_memory)
    results: dict[str, dict] = {}
    for stage, cmd, rows in _stages(info, args.clients, args.seconds):
        if args.stages and stage not in args.stages and not stage.startswith("ingest"):
            continue
        load = os.getloadavg()[0]
        if stage == "api":
            figures = _api_stage(root, url, args.clients, args.seconds)
        else:
            figures = {**_run_stage(root, url, cmd), "rows": rows}
        figures["load"] = round(load, 1)
        results[stage] = figures
        print(f"{stage}: {json.dumps(figures)}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"engine": args.engine, "month": info, "stages": results}))
        return
    print("| engine | stage | rows | seconds | rows/s | peak MiB | load | notes |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for stage, v in results.items():
        if "not_supported" in v or "failed" in v:
            what = "not supported" if "not_supported" in v else "failed"
            reason = v.get("not_supported") or v.get("failed")
            print(f"| {args.engine} | {stage} | | | | | {v['load']} | {what}: {reason} |")
            continue
        rate = v["rows"] / v["seconds"] if v["seconds"] else 0
        print(
            f"| {args.engine} | {stage} | {v['rows']:,} | {v['seconds']:.1f} | {rate:,.0f} "
            f"| {v['peak_mib']:,.0f} | {v['load']} | {v.get('note', '')} |"
        )
    total = sum(v.get("seconds", 0) for v in results.values())
    peak = max((v.get("peak_mib", 0) for v in results.values()), default=0)
    print(f"\nall stages: {total:.1f} s, largest stage peak {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
