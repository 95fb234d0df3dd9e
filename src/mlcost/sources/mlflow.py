"""Experiment runs from an MLflow tracking store → ``workloads``, ``run_metrics``.

Reads experiments and runs through MLflow's own client (``MlflowClient``) from any tracking
URI it serves (a ``file:`` store, a database, a tracking server). Each run becomes a workload
``mlflow:<run_id>``: its name, status, start and end, params, latest metrics and tags, the
experiment's name; the history of each metric (``get_metric_history``: one request per run
and metric) goes to ``run_metrics``. The billed resource is the first run tag (or param) of
``resource_id``, ``instance_id``, ``host`` or ``hostname``; ``kind`` and ``gpus`` /
``gpu_count`` tags or params give the workload kind and GPU count. MLflow is imported only
here, when used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlcost.errors import InvalidInput
from mlcost.sources._common import LoadResult, Source, Written, load_once, sha256_bytes
from mlcost.sources._tables import arrow_rows

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

NAME = "mlflow"
DESCRIPTION = "MLflow tracking store runs (experiments, params, metrics, tags) → workloads"
RESOURCE_KEYS = ("resource_id", "instance_id", "host", "hostname")
_STATUS = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "stopped", "RUNNING": "running"}


def _time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None) if ms else None


def read_runs(tracking_uri: str, experiments: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Workload rows for every run of the named experiments (all experiments if none)."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InvalidInput(
            "reading MLflow needs the mlflow client",
            fix="pip install mlflow-skinny (or mlflow), then retry.",
        ) from None
    client = MlflowClient(tracking_uri=tracking_uri)
    wanted = set(experiments)
    found = [e for e in client.search_experiments() if not wanted or e.name in wanted]
    missing = wanted - {e.name for e in found}
    if missing:
        raise InvalidInput(
            f"no experiment named {', '.join(sorted(missing))} in {tracking_uri}",
            fix="List experiments with `mlflow experiments search` or omit --experiment.",
        )
    names = {e.experiment_id: e.name for e in found}
    rows: list[dict[str, Any]] = []
    token = None
    while names:
        page = client.search_runs(list(names), max_results=1000, page_token=token)
        for run in page:
            info, data = run.info, run.data
            tags = {k: v for k, v in data.tags.items() if not k.startswith("mlflow.")}
            both = {**data.params, **tags}
            resource = next((both[k] for k in RESOURCE_KEYS if both.get(k)), None)
            gpus = both.get("gpu_count") or both.get("gpus")
            rows.append(
                {
                    "workload_id": f"mlflow:{info.run_id}",
                    "kind": both.get("kind", "training"),
                    "name": info.run_name,
                    "status": _STATUS.get(info.status, info.status.lower()),
                    "start": _time(info.start_time),
                    "end": _time(info.end_time),
                    "resource_id": resource,
                    "owner": data.tags.get("mlflow.user"),
                    "gpu_count": float(gpus)
                    if gpus and gpus.replace(".", "", 1).isdigit()
                    else None,
                    "experiment": names[info.experiment_id],
                    "run_id": info.run_id,
                    "tags": tags,
                    "params": dict(data.params),
                    "metrics": {k: float(v) for k, v in data.metrics.items()},
                    "history": [
                        {
                            "workload_id": f"mlflow:{info.run_id}",
                            "key": key,
                            "step": int(m.step),
                            "time": _time(m.timestamp),
                            "value": float(m.value),
                        }
                        for key in sorted(data.metrics)
                        for m in client.get_metric_history(info.run_id, key)
                    ],
                }
            )
        token = page.token
        if not token:
            break
    return rows


def ingest_mlflow(
    warehouse: Warehouse, tracking_uri: str, *, experiments: Iterable[str] = ()
) -> LoadResult:
    """Load MLflow runs in one transaction; runs loaded before are replaced by their update."""
    experiments = tuple(experiments)
    rows = read_runs(tracking_uri, experiments)
    digest = sha256_bytes(json.dumps(rows, sort_keys=True, default=str).encode())

    def write(ingest_id: int) -> Written:
        written = Written()
        if rows:
            table = arrow_rows("workloads", rows, source=NAME, ingest_id=ingest_id)
            written.add("workloads", warehouse.insert_arrow("workloads", table))
            written.rows_replaced = warehouse.delete_replaced("workloads", "workload_id", ingest_id)
        history = [p for r in rows for p in r["history"]]
        if history:
            table = arrow_rows("run_metrics", history, source=NAME, ingest_id=ingest_id)
            written.add("run_metrics", warehouse.insert_arrow("run_metrics", table))
            written.rows_replaced += warehouse.delete_replaced(
                "run_metrics", "workload_id", ingest_id
            )
        return written

    label = tracking_uri + (f" ({', '.join(experiments)})" if experiments else "")
    return load_once(warehouse, NAME, [(label, digest)], write)


def ingest(warehouse: Warehouse, paths: Iterable[str]) -> LoadResult:
    """Registry entry point: each path is a tracking URI."""
    results = [ingest_mlflow(warehouse, str(p)) for p in paths]
    return results[-1]


SOURCE = Source(NAME, DESCRIPTION, ("workloads", "run_metrics"), ingest)
