"""Load test of the REST API: concurrent clients against GET /api/v1/spend on loopback.

    python benchmarks/api_load.py --rows 1000000 --clients 50 --seconds 30

1. writes an N-row FOCUS Parquet file (mlcost.testing.write_focus_file) and ingests it into a
   fresh warehouse, then creates two API tokens (read:all and read:team:<first team>);
2. starts `mlcost serve` (uvicorn, its own process) on a free 127.0.0.1 port;
3. times the first (uncached) answer of each query, then runs ``--clients`` asyncio clients
   (plain HTTP/1.1, one keep-alive connection each) for ``--seconds``, each request one of
   the queries in turn (spend by team / by ServiceName / by team with a team token), and
   reports p50/p95/p99 latency, requests per second and errors (any non-200 answer or
   transport error).

``--uncached``: every request is a distinct question instead, so no answer is served from a
cache: one or two dimensions (ordered) of six, one of three metrics and a window of whole days
inside the month (``from`` < ``to``), drawn without repetition (about 25,000 questions).

Results print as a table and, with --json, as one JSON object. Not a test: figures depend on
the machine; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

QUERIES = (
    ("all", "/api/v1/spend?by=team"),
    ("all", "/api/v1/spend?by=ServiceName&from=2026-01-01"),
    ("team", "/api/v1/spend?by=team"),
)


DIMENSIONS = ("team", "ServiceName", "ServiceProviderName", "RegionId", "SubAccountId", "tag:env")
METRICS = ("EffectiveCost", "BilledCost", "ListCost")


def distinct_questions(seed: int = 0) -> list[tuple[str, str]]:
    """Every (token, path) of the uncached mode, shuffled: no two ask the same question."""
    import random

    dims = [(d,) for d in DIMENSIONS] + [(a, b) for a in DIMENSIONS for b in DIMENSIONS if a != b]
    days = range(1, 23)  # write_focus_file's charges: 2026-05-01 .. 2026-05-22
    out = [
        (
            "all",
            f"/api/v1/spend?by={','.join(d)}&metric={m}&from=2026-05-{a:02d}&to=2026-05-{b:02d}",
        )
        for d in dims
        for m in METRICS
        for a in days
        for b in days
        if a < b
    ]
    random.Random(seed).shuffle(out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build(folder: Path, rows: int) -> tuple[str, dict[str, str]]:
    from mlcost import ingest_focus, open_warehouse
    from mlcost.server.auth import create_token
    from mlcost.testing import TEAMS, write_focus_file

    parquet = write_focus_file(folder / "focus.parquet", rows)
    url = f"duckdb://{folder / 'warehouse.duckdb'}"
    with open_warehouse(url) as wh:
        ingest_focus(wh, [parquet])
        _, read_all = create_token(wh, ["read:all"], "load-all")
        _, team = create_token(wh, [f"read:team:{TEAMS[0]}"], "load-team")
    return url, {"all": read_all, "team": team}


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
    out: list[float],
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
                out.append(time.perf_counter() - t0)
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
    latencies: list[float] = []
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
        *(_client(port, requests, stop, k, latencies, errors, step) for k in range(clients))
    )
    elapsed = time.monotonic() - start
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "requests_per_s": round((len(latencies) + len(errors)) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 1),
        "p95_ms": round(q[94] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
    }


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
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--uncached", action="store_true", help="every request a new question")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        url, tokens = _build(folder, args.rows)
        build_s = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlcost.cli.main",
                "--warehouse",
                url,
                "serve",
                "--port",
                str(port),
            ],
            cwd=folder,
            env={**os.environ, "HOME": tmp},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(port)
            cold = {}
            for who, path in QUERIES:
                t = time.perf_counter()
                r = httpx.get(
                    base + path, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=120
                )
                r.raise_for_status()
                cold[f"{who} {path}"] = round((time.perf_counter() - t) * 1000, 1)
            queries = distinct_questions() if args.uncached else QUERIES
            result = asyncio.run(
                load(port, tokens, args.clients, args.seconds, queries, distinct=args.uncached)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {
        "rows": args.rows,
        "mode": "uncached" if args.uncached else "cached mix",
        "clients": args.clients,
        "seconds": args.seconds,
        "build_s": round(build_s, 1),
        "cold_ms": cold,
        **result,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
