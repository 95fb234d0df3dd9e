"""Slurm sacct and OpenCost /allocation → workloads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from mlcost import Warehouse
from mlcost.errors import BadValue, MissingColumn
from mlcost.sources.opencost import ingest_opencost
from mlcost.sources.slurm import expand_nodelist, ingest_slurm

SACCT = """JobID|JobName|User|Account|Partition|AllocTRES|NodeList|Submit|Start|End|Elapsed|State|ExitCode|Comment|WCKey
7|pretrain|ana|llm|a100|billing=192,cpu=192,gres/gpu:a100=16,mem=2T,node=2|gpu-[01-02]|2026-05-01T00:00:00|2026-05-01T01:00:00|2026-05-01T03:30:00|02:30:00|COMPLETED|0:0|team=search,project=atlas|*ml
7.batch|batch|||a100|cpu=96,mem=1T,node=1|gpu-01|2026-05-01T00:00:00|2026-05-01T01:00:00|2026-05-01T03:30:00|02:30:00|COMPLETED|0:0||
8|notebook|bo|vision|a100|cpu=8,gres/gpu=1,node=1|gpu-03|2026-05-01T00:00:00|2026-05-01T02:00:00|Unknown|1-01:00:00|RUNNING|0:0|{"team": "vision"}|
"""


def _workloads(wh: Warehouse) -> list[dict[str, object]]:
    t = wh.table("workloads")
    return t.order_by([t.workload_id, t.node]).to_pyarrow().to_pylist()


def test_slurm_jobs_nodes_gpus_tags(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "sacct.txt"
    path.write_text(SACCT)
    result = ingest_slurm(wh, path, timezone="Europe/Berlin")
    rows = _workloads(wh)
    assert result.tables == {"workloads": 3}  # job 7 on two nodes + job 8; the step is skipped
    a, b, c = rows
    assert (a["node"], b["node"], a["gpu_count"], a["gpu_hours"]) == ("gpu-01", "gpu-02", 8.0, 20.0)
    assert a["gpu_model"] == "A100-40GB"
    assert a["start"].hour == 23  # 01:00 in Berlin (CEST) is 23:00 UTC
    assert dict(a["tags"]) == {
        "account": "llm",
        "partition": "a100",
        "wckey": "ml",
        "team": "search",
        "project": "atlas",
    }
    assert c["end"] is None and c["status"] == "running" and c["gpu_hours"] == 25.0
    assert dict(c["tags"])["team"] == "vision"
    assert ingest_slurm(wh, path, timezone="Europe/Berlin").already_loaded


def test_expand_nodelist() -> None:
    assert expand_nodelist("n[8-10],gpu-[001-002]x") == ["n8", "n9", "n10", "gpu-001x", "gpu-002x"]
    assert expand_nodelist("None assigned") == []


@pytest.mark.parametrize(
    ("text", "row", "column"),
    [
        (SACCT.replace("02:30:00|COMPLETED|0:0|team", "2h30|COMPLETED|0:0|team"), 1, "Elapsed"),
        (
            SACCT.replace(
                "2026-05-01T01:00:00|2026-05-01T03:30:00|02:30:00|COMPLETED|0:0|team",
                "01/05/2026|2026-05-01T03:30:00|02:30:00|COMPLETED|0:0|team",
            ),
            1,
            "Start",
        ),
        (SACCT.replace("|0:0|team", "|0:0|team|extra"), 1, None),
    ],
)
def test_slurm_bad_rows(
    wh: Warehouse, tmp_path: Path, text: str, row: int, column: str | None
) -> None:
    path = tmp_path / "sacct.txt"
    path.write_text(text)
    with pytest.raises(BadValue) as err:
        ingest_slurm(wh, path)
    assert (err.value.row, err.value.column) == (row, column)
    assert wh.table("workloads").count().execute() == 0


def test_slurm_not_sacct(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("JobID|Name\n1|a\n")
    with pytest.raises(MissingColumn):
        ingest_slurm(wh, path)


def _allocation(pod: str, day: int, *, usage: float | None) -> dict[str, object]:
    """One allocation in the shape of OpenCost's /allocation (opencost/core/pkg/opencost)."""
    alloc: dict[str, object] = {
        "name": pod,
        "properties": {
            "cluster": "eks-a",
            "node": "ip-10-0-1-5.ec2.internal",
            "providerID": "aws:///us-east-1b/i-0abc",
            "namespace": "search",
            "pod": pod,
            "controllerKind": "deployment",
            "labels": {"team": "search", "app": "embedder"},
        },
        "window": {"start": f"2026-05-0{day}T00:00:00Z", "end": f"2026-05-0{day + 1}T00:00:00Z"},
        "start": f"2026-05-0{day}T00:00:00Z",
        "end": f"2026-05-0{day + 1}T00:00:00Z",
        "minutes": 1440.0,
        "gpuCount": 1.0,
        "gpuHours": 24.0,
        "gpuCost": 20.0,
        "totalCost": 24.5,
    }
    if usage is not None:
        alloc["gpuAllocation"] = {
            "gpuDevice": "nvidia0",
            "gpuModel": "Tesla T4",
            "gpuUUID": "GPU-1",
            "isGPUShared": False,
            "gpuUsageAverage": usage,
            "gpuRequestAverage": 1.0,
        }
    return alloc


RESPONSE = {
    "code": 200,
    "status": "success",
    "data": [
        {"embedder-0": _allocation("embedder-0", 1, usage=0.25), "__idle__": {"name": "__idle__"}},
        {"embedder-0": _allocation("embedder-0", 2, usage=0.75)},
    ],
}


@pytest.fixture
def opencost_url() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    """A local HTTP server on loopback answering /allocation in OpenCost's response shape."""
    seen: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/allocation":
                self.send_error(404)
                return
            seen.append(parse_qs(url.query))
            body = json.dumps(RESPONSE).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_opencost_api(wh: Warehouse, opencost_url: tuple[str, list[dict[str, list[str]]]]) -> None:
    url, seen = opencost_url
    result = ingest_opencost(wh, url=url, window="2d", aggregate="pod")
    assert seen[0]["window"] == ["2d"] and seen[0]["aggregate"] == ["pod"]
    [w] = _workloads(wh)
    assert result.tables == {"workloads": 1}
    assert w["workload_id"] == "opencost:eks-a/search/embedder-0"
    assert (w["gpu_hours"], w["used_gpu_hours"], float(w["cost"])) == (48.0, 24.0, 49.0)
    assert w["resource_id"] == "aws:///us-east-1b/i-0abc" and w["kind"] == "inference"
    assert w["gpu_model"] == "T4" and dict(w["tags"])["team"] == "search"
    assert (w["start"].day, w["end"].day) == (1, 3)
    assert ingest_opencost(wh, url=url, window="2d").already_loaded


def test_opencost_bad_response(wh: Warehouse, tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    broken = json.loads(json.dumps(RESPONSE))
    broken["data"][1]["embedder-0"]["totalCost"] = "lots"
    bad.write_text(json.dumps(broken))
    with pytest.raises(BadValue) as err:
        ingest_opencost(wh, bad)
    assert (err.value.row, err.value.column) == (2, "embedder-0.totalCost")
    assert wh.table("workloads").count().execute() == 0
