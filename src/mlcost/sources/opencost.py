"""Kubernetes allocations from OpenCost's ``/allocation`` API → ``workloads``.

Reads the API's response, ``{"code": 200, "data": [{"<name>": allocation, ...}, ...]}`` (one
set per ``step``), from saved JSON files or from a running OpenCost (``url``), with
``aggregate=pod`` or ``aggregate=container``. Allocations of one pod (or container) across
steps become one workload: earliest start, latest end, summed GPU hours and cost, the mean
GPU request and usage where OpenCost reports them (``gpuAllocation.gpuRequestAverage`` /
``gpuUsageAverage``), and the pod's labels as tags. Idle and unallocated rows (``__idle__``,
``__unallocated__``) are not workloads and are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mlcost.errors import BadValue, InvalidInput
from mlcost.sources._common import (
    WORKLOADS,
    LoadResult,
    Source,
    Written,
    gather,
    gpu_model_name,
    hashed,
    load_once,
    number,
    open_text,
    parse_time,
    sha256_bytes,
    sniff_text,
    str_map,
)
from mlcost.sources._tables import arrow_rows

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

NAME = "opencost"
DESCRIPTION = "OpenCost /allocation (aggregate=pod|container), saved JSON or --url → workloads"
SUFFIXES = (".json", ".json.gz")
CURRENCY = "USD"  # OpenCost reports costs in its configured currency, USD by default
_SKIP = ("__idle__", "__unallocated__", "__unmounted__")


def detect(path: Path) -> bool:
    head = sniff_text(path, SUFFIXES, 4096)
    return '"data"' in head and any(k in head for k in ('"properties"', '"totalCost"', '"code"'))


def fetch(url: str, *, window: str, aggregate: str = "pod", step: str = "1d") -> bytes:
    """GET ``/allocation`` from an OpenCost API (``http://127.0.0.1:9003``)."""
    from urllib.error import URLError
    from urllib.request import urlopen

    query = urlencode(
        {"window": window, "aggregate": aggregate, "step": step, "accumulate": "false"}
    )
    full = f"{url.rstrip('/')}/allocation?{query}"
    try:
        with urlopen(full, timeout=60) as response:
            body: bytes = response.read()
    except (URLError, OSError) as exc:
        raise InvalidInput(
            f"OpenCost at {url} did not answer ({exc})",
            file=full,
            fix="Check the URL (kubectl port-forward -n opencost svc/opencost 9003) and retry.",
        ) from None
    return body


def _sets(body: bytes, where: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"is not JSON ({exc})", file=where) from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(doc, dict) and doc.get("code") not in (None, 200):
        raise InvalidInput(
            f"OpenCost answered code {doc.get('code')}: {doc.get('message', '')}", file=where
        )
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(s, dict | type(None)) for s in data):
        raise InvalidInput(
            'is not an OpenCost /allocation response: no "data" list of allocation sets',
            file=where,
            column="data",
        )
    return [s for s in data if s]


def workloads_of(body: bytes, where: str) -> list[dict[str, Any]]:
    """One workload per pod/container across all steps of a response."""
    merged: dict[str, dict[str, Any]] = {}
    for set_no, allocations in enumerate(_sets(body, where), start=1):
        for name, a in allocations.items():
            if any(s in name for s in _SKIP):
                continue
            row_label = f"data[{set_no - 1}].{name}"
            if not isinstance(a, dict):
                raise BadValue("is not an allocation object", file=where, column=row_label)
            props = a.get("properties") or {}
            start = parse_time(a.get("start"), file=where, row=set_no, column=f"{name}.start")
            end = parse_time(a.get("end"), file=where, row=set_no, column=f"{name}.end")
            minutes = number(a.get("minutes"), file=where, row=set_no, column=f"{name}.minutes")
            gpu_hours = number(a.get("gpuHours"), file=where, row=set_no, column=f"{name}.gpuHours")
            total = number(a.get("totalCost"), file=where, row=set_no, column=f"{name}.totalCost")
            gpu = a.get("gpuAllocation") or {}
            request = number(
                gpu.get("gpuRequestAverage", a.get("gpuRequestAverage")),
                file=where,
                row=set_no,
                column=f"{name}.gpuRequestAverage",
            )
            usage = number(
                gpu.get("gpuUsageAverage", a.get("gpuUsageAverage")),
                file=where,
                row=set_no,
                column=f"{name}.gpuUsageAverage",
            )
            count = number(a.get("gpuCount"), file=where, row=set_no, column=f"{name}.gpuCount")
            hours = (minutes or 0) / 60
            cluster = props.get("cluster")
            key = "/".join(
                str(p)
                for p in (
                    cluster,
                    props.get("namespace"),
                    props.get("pod") or name,
                    props.get("container"),
                )
                if p
            )
            w = merged.get(key)
            if w is None:
                labels = str_map(
                    props.get("labels"), file=where, row=set_no, column=f"{name}.properties.labels"
                )
                w = merged[key] = {
                    "workload_id": f"opencost:{key}",
                    "kind": "inference"
                    if props.get("controllerKind") in ("deployment", "statefulset")
                    else "batch",
                    "name": props.get("pod") or name,
                    "status": None,
                    "start": start,
                    "end": end,
                    # providerID (aws:///us-east-1b/i-0abc) names the billed instance;
                    # without it the node name is matched.
                    "resource_id": props.get("providerID") or None,
                    "node": props.get("node"),
                    "cluster": cluster,
                    "gpu_count": request if request is not None else count,
                    "gpu_model": gpu_model_name(gpu.get("gpuModel")),
                    "gpu_hours": 0.0,
                    "used_gpu_hours": 0.0 if usage is not None else None,
                    "tags": {
                        **labels,
                        **{
                            k: str(props[k])
                            for k in ("namespace", "controller", "controllerKind", "container")
                            if props.get(k)
                        },
                    },
                    "cost": Decimal(0),
                    "currency": CURRENCY,
                }
            if start and (w["start"] is None or start < w["start"]):
                w["start"] = start
            if end and (w["end"] is None or end > w["end"]):
                w["end"] = end
            w["gpu_hours"] += gpu_hours if gpu_hours is not None else (count or 0) * hours
            if usage is not None:
                w["used_gpu_hours"] = (w["used_gpu_hours"] or 0.0) + usage * hours
            w["cost"] += Decimal(str(total or 0))
    return list(merged.values())


def ingest_opencost(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path = (),
    *,
    url: str | None = None,
    window: str = "7d",
    aggregate: str = "pod",
) -> LoadResult:
    """Load OpenCost allocations from saved responses or from ``url``, in one transaction."""
    if isinstance(paths, str | Path):
        paths = [paths]
    inputs = gather(paths, SUFFIXES, "OpenCost /allocation responses") if paths else hashed([])
    bodies: list[tuple[str, bytes]] = []
    for f in inputs.files:
        with open_text(f) as fh:
            bodies.append((str(f), fh.read().encode()))
    if url:
        if aggregate not in ("pod", "container"):
            raise ValueError("aggregate must be 'pod' or 'container'")
        where = f"{url} window={window} aggregate={aggregate}"
        body = fetch(url, window=window, aggregate=aggregate)
        bodies.append((where, body))
        inputs = inputs.plus(where, sha256_bytes(body))
    if not bodies:
        raise InvalidInput("nothing to load", fix="Give response files or --url.")
    rows = [w for where, body in bodies for w in workloads_of(body, where)]

    def write(ingest_id: int) -> Written:
        written = Written()
        table = arrow_rows("workloads", rows, source=NAME, ingest_id=ingest_id)
        written.add("workloads", warehouse.insert_arrow("workloads", table))
        written.rows_replaced = warehouse.delete_replaced("workloads", "workload_id", ingest_id)
        return written

    return load_once(warehouse, NAME, inputs, write)


ingest = ingest_opencost
SOURCE = Source(NAME, DESCRIPTION, ("workloads",), ingest, detect, stage=WORKLOADS)
