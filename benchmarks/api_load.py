"""Load test of the REST API: concurrent clients against GET /api/v1/spend on loopback.

    python benchmarks/api_load.py --demo --clients 50 --seconds 20 --uncached
    python benchmarks/api_load.py --rows 1000000 --clients 50 --seconds 30

1. the warehouse: ``--demo`` generates the demo organization (seed 0) and loads it as
   `mlcost demo` does (its own mlcost.toml: the team tag and its spellings); ``--warehouse
   PATH`` copies an existing DuckDB file (with the mlcost.toml beside it, if any); otherwise
   an N-row FOCUS Parquet file (mlcost.testing.write_focus_file, ``--rows``) is ingested into
   a fresh one. Then two API tokens (read:all and read:team:<a team>) are created in it;
2. starts `mlcost serve` (uvicorn, its own process) on a free 127.0.0.1 port, in the
   warehouse's folder;
3. times the first (uncached) answer of each query, then runs ``--clients`` asyncio clients
   (plain HTTP/1.1, one keep-alive connection each) for ``--seconds``, each request one of
   the queries in turn (spend by team / by ServiceName / by team with a team token), and
   reports p50/p95/p99 latency, requests per second and errors (any non-200 answer or
   transport error).

``--uncached``: every request is a distinct question instead, so no answer is served from a
cache: one or two dimensions (ordered) of six, one of three metrics and a window of whole days
inside the days the warehouse holds (``from`` < ``to``), drawn without repetition and shuffled.
``--rollup-only`` keeps the dimensions the daily rollup holds (no team, no tag). Latencies are
also reported apart for the questions the rollup answers and for those read from the line
items (a tag or the team).

Results print as a table and, with --json, as one JSON object. Not a test: figures depend on
the machine; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

QUERIES = (
    ("all", "/api/v1/spend?by=team"),
    ("all", "/api/v1/spend?by=ServiceName&from=2026-01-01"),
    ("team", "/api/v1/spend?by=team"),
)


DIMENSIONS = ("team", "ServiceName", "ServiceProviderName", "RegionId", "SubAccountId", "tag:env")
MLCOST = (sys.executable, "-m", "mlcost.cli.main")
LINE_ITEM_DIMENSIONS = ("team", "tag:env")  # tags: read from the line items, not the rollup
METRICS = ("EffectiveCost", "BilledCost", "ListCost")
MAY = (date(2026, 5, 1), date(2026, 5, 22))  # write_focus_file's charges: the days it covers


def distinct_questions(
    seed: int = 0, days: tuple[date, date] = MAY, *, rollup_only: bool = False
) -> list[tuple[str, str]]:
    """Every (token, path) of the uncached mode, shuffled: no two ask the same question.

    ``days``: the first and last day with charges; windows run from one of them to a later
    one (``to`` exclusive, up to the day after the last)."""
    import random

    names = [d for d in DIMENSIONS if not (rollup_only and d in LINE_ITEM_DIMENSIONS)]
    dims = [(d,) for d in names] + [(a, b) for a in names for b in names if a != b]
    first, last = days
    bounds = [first + timedelta(days=i) for i in range((last - first).days + 2)]
    out = [
        ("all", f"/api/v1/spend?by={','.join(d)}&metric={m}&from={a}&to={b}")
        for d in dims
        for m in METRICS
        for a in bounds
        for b in bounds
        if a < b
    ]
    random.Random(seed).shuffle(out)
    return out


def kind(path: str) -> str:
    """Whether the daily rollup answers a question of the uncached mode, or the line items."""
    by = path.split("by=", 1)[1].split("&", 1)[0].split(",")
    return "line items" if any(d in LINE_ITEM_DIMENSIONS for d in by) else "rollup"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build(folder: Path, rows: int) -> Path:
    from mlcost import ingest_focus, open_warehouse
    from mlcost.testing import write_focus_file

    parquet = write_focus_file(folder / "focus.parquet", rows)
    path = folder / "warehouse.duckdb"
    with open_warehouse(f"duckdb://{path}") as wh:
        ingest_focus(wh, [parquet])
    return path


def _demo(folder: Path) -> Path:
    """The demo organization (seed 0), loaded as `mlcost demo` loads it."""
    out = folder / "demo"
    subprocess.run(
        [*MLCOST, "demo", "--out", str(out), "--seed", "0", "--format", "json"],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(folder)},
    )
    return out / "warehouse.duckdb"


def _copy(folder: Path, source: Path) -> Path:
    """A copy of ``source`` (tokens are written into it) beside its mlcost.toml, if any."""
    if not source.is_file():
        raise SystemExit(f"--warehouse {source}: no such DuckDB file")
    out = folder / "copy"
    out.mkdir()
    for name in (source.name, source.name + ".wal"):
        if (source.parent / name).exists():
            shutil.copy2(source.parent / name, out / name)
    if (source.parent / "mlcost.toml").exists():
        shutil.copy2(source.parent / "mlcost.toml", out / "mlcost.toml")
    return out / source.name


def _prepare(path: Path) -> tuple[dict[str, str], tuple[date, date]]:
    """Tokens (read:all, and read:team for the first team tag value) and the charge days."""
    from mlcost import open_warehouse
    from mlcost.server.auth import create_token
    from mlcost.testing import TEAMS

    with open_warehouse(f"duckdb://{path}") as wh:
        t = wh.table("cost_line_items")
        day = t.ChargePeriodStart.date()
        first, last = (t.aggregate(a=day.min(), b=day.max()).to_pyarrow().to_pylist()[0]).values()
        _, read_all = create_token(wh, ["read:all"], "load-all")
        _, team = create_token(wh, [f"read:team:{TEAMS[0]}"], "load-team")
    return {"all": read_all, "team": team}, (first, last)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one keep-alive GET and read the whole answer; return its status code."""
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _client(
    port: int,
    requests: list[tuple[str, bytes]],
    stop: float,
    offset: int,
    out: list[tuple[float, str]],
    errors: list[str],
    step: int = 1,
) -> None:
    # A plain asyncio HTTP/1.1 client: a full client library costs more CPU per request than
    # the server does, and on a small machine the load generator would measure itself.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.monotonic() < stop:
            if step > 1 and i >= len(requests):
                break  # every distinct question asked
            path, request = requests[i % len(requests)]
            i += step
            t0 = time.perf_counter()
            try:
                status = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                errors.append(f"{type(exc).__name__} {path}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if status == 200:
                out.append((time.perf_counter() - t0, path))
            else:
                errors.append(f"{status} {path}")
    finally:
        writer.close()


async def load(
    port: int,
    tokens: dict[str, str],
    clients: int,
    seconds: float,
    queries: Sequence[tuple[str, str]] = QUERIES,
    *,
    distinct: bool = False,
) -> dict[str, Any]:
    """``clients`` clients for ``seconds``; with ``distinct``, each query is asked once at most
    (client k asks queries k, k + clients, ...)."""
    answered: list[tuple[float, str]] = []
    errors: list[str] = []
    requests = [
        (
            path,
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {tokens[who]}\r\n\r\n".encode(),
        )
        for who, path in queries
    ]
    start = time.monotonic()
    stop = start + seconds
    step = clients if distinct else 1
    await asyncio.gather(
        *(_client(port, requests, stop, k, answered, errors, step) for k in range(clients))
    )
    elapsed = time.monotonic() - start
    latencies = [t for t, _ in answered]
    out: dict[str, Any] = {
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "requests_per_s": round((len(latencies) + len(errors)) / elapsed, 1),
        **_quantiles(latencies),
    }
    if distinct:
        for k in ("rollup", "line items"):
            mine = [t for t, path in answered if kind(path) == k]
            out[k] = {"answered": len(mine), **_quantiles(mine)}
    return out


def _quantiles(latencies: list[float]) -> dict[str, float]:
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {f"p{p}_ms": round(q[p - 1] * 1000, 1) for p in (50, 95, 99)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(port: int, seconds: float = 120.0) -> None:
    """Wait until the server on ``port`` answers /healthz."""
    import httpx

    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server on port {port} did not answer /healthz in {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--rows", type=int, default=1_000_000, help="generated line items")
    where.add_argument("--demo", action="store_true", help="the demo organization (seed 0)")
    where.add_argument("--warehouse", type=Path, help="a copy of this DuckDB file")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--uncached", action="store_true", help="every request a new question")
    parser.add_argument(
        "--rollup-only", action="store_true", help="uncached: only questions the rollup answers"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        if args.demo:
            path = _demo(folder)
        elif args.warehouse is not None:
            path = _copy(folder, args.warehouse)
        else:
            path = _build(folder, args.rows)
        tokens, days = _prepare(path)
        build_s = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*MLCOST, "--warehouse", f"duckdb://{path}", "serve", "--port", str(port)],
            cwd=path.parent,
            env={**os.environ, "HOME": tmp},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(port)
            cold = {}
            for who, query in QUERIES:
                t = time.perf_counter()
                r = httpx.get(
                    base + query, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=120
                )
                r.raise_for_status()
                cold[f"{who} {query}"] = round((time.perf_counter() - t) * 1000, 1)
            queries = (
                distinct_questions(days=days, rollup_only=args.rollup_only)
                if args.uncached
                else QUERIES
            )
            cpu = cpu_seconds(server.pid)
            result = asyncio.run(
                load(port, tokens, args.clients, args.seconds, queries, distinct=args.uncached)
            )
            cpu = cpu_seconds(server.pid) - cpu
            # The server's own CPU per answer: what the machine's other load does not change.
            result["server_cpu_ms_per_request"] = round(cpu * 1000 / max(result["requests"], 1), 2)
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {
        "warehouse": "demo (seed 0)"
        if args.demo
        else str(args.warehouse)
        if args.warehouse
        else f"{args.rows} generated rows",
        "days": f"{days[0]} .. {days[1]}",
        "mode": ("uncached" + (", rollup only" if args.rollup_only else ""))
        if args.uncached
        else "cached mix",
        "questions": len(queries),
        "clients": args.clients,
        "seconds": args.seconds,
        "build_s": round(build_s, 1),
        "cold_ms": cold,
        **result,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return
    for key, value in report.items():
        print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
