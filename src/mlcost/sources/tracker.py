"""The in-process tracker's spool: JSON-lines records → ``workloads``, ``gpu_samples``,
``cache_stats``, ``run_metrics``.

The record format (``"schema": 1``, kinds ``run``, ``gpu_sample``, ``cache_stats``,
``metric``) is documented in ``docs/tracker-records.md``; the runtime tracker writes it. A run
may appear several times; the last line for a ``run_id`` wins, and a later load of the same run
replaces the earlier row (and its metric history). Lines without ``schema`` that carry
``run_id`` and ``experiment`` are read as experiment-tracker run exports (the shape ``mlcost
demo`` writes); their optional ``metric_history`` (name → list of ``{"step", "time",
"value"}``) fills ``run_metrics``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import BadValue, InvalidInput
from mlcost.sources._common import (
    WORKLOADS,
    LoadResult,
    Source,
    Written,
    gather,
    gpu_model_name,
    load_once,
    number,
    open_text,
    parse_time,
    sniff_text,
    str_map,
)
from mlcost.sources._samples import downsample
from mlcost.sources._tables import arrow_rows

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

NAME = "tracker"
DESCRIPTION = "mlcost tracker spool (JSON lines: runs, GPU samples, cache stats) → workloads"
SUFFIXES = (".jsonl", ".jsonl.gz")
SCHEMA = 1
KINDS = ("run", "gpu_sample", "cache_stats", "metric")
STATUSES = ("running", "finished", "failed", "stopped")
PURCHASES = ("on-demand", "spot", "reserved")
DEFAULT_RESOLUTION_S = 60


def detect(path: Path) -> bool:
    try:
        first = json.loads(sniff_text(path, SUFFIXES).split("\n", 1)[0] or "null")
    except ValueError:
        return False
    return isinstance(first, dict) and (
        first.get("schema") == SCHEMA or {"run_id", "experiment"} <= set(first)
    )


def _money(value: Any, *, file: Path, row: int, column: str) -> tuple[Decimal | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict) or "amount" not in value or "currency" not in value:
        raise BadValue(
            'is not {"amount": "12.34", "currency": "USD"}', file=file, row=row, column=column
        )
    if value["amount"] is None:
        return None, None
    try:
        return Decimal(str(value["amount"])), str(value["currency"])
    except InvalidOperation:
        raise BadValue(
            f"{value['amount']!r} is not a decimal amount", file=file, row=row, column=column
        ) from None


def _choice(value: Any, allowed: tuple[str, ...], *, file: Path, row: int, column: str) -> Any:
    if value is not None and value not in allowed:
        raise BadValue(
            f"{value!r} is not one of {', '.join(allowed)}", file=file, row=row, column=column
        )
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _run(rec: dict[str, Any], *, file: Path, row: int) -> dict[str, Any]:
    def t(column: str) -> Any:
        return parse_time(rec.get(column), file=file, row=row, column=column)

    def n(column: str) -> float | None:
        return number(rec.get(column), file=file, row=row, column=column)

    cost, currency = _money(rec.get("cost"), file=file, row=row, column="cost")
    price, price_currency = _money(
        rec.get("hourly_price"), file=file, row=row, column="hourly_price"
    )
    tags = str_map(rec.get("tags"), file=file, row=row, column="tags")
    metrics = rec.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise BadValue("is not a JSON object", file=file, row=row, column="metrics")
    params = {
        "cloud": rec.get("cloud"),
        "region": rec.get("region"),
        "purchase": _choice(rec.get("purchase"), PURCHASES, file=file, row=row, column="purchase"),
        "hourly_price": f"{price} {price_currency}" if price is not None else None,
        "checkpoint_seconds": rec.get("checkpoint_seconds"),
        "peak_memory_bytes": rec.get("peak_memory_bytes"),
        "stopped_reason": rec.get("stopped_reason"),
    }
    return {
        "workload_id": f"tracker:{rec['run_id']}",
        "kind": tags.get("kind", "training"),
        "name": _text(rec.get("name")),
        "status": _choice(rec.get("status"), STATUSES, file=file, row=row, column="status"),
        "start": t("start"),
        "end": t("end"),
        "resource_id": _text(rec.get("resource_id")),
        "gpu_count": n("gpu_count"),
        "gpu_model": gpu_model_name(_text(rec.get("gpu_model"))),
        "instance_type": _text(rec.get("instance_type")),
        "gpu_hours": n("gpu_hours"),
        "used_gpu_hours": n("used_gpu_hours"),
        "run_id": str(rec["run_id"]),
        "tags": tags,
        "params": {k: str(v) for k, v in params.items() if v is not None},
        "metrics": {
            str(k): number(v, file=file, row=row, column=f"metrics.{k}") for k, v in metrics.items()
        },
        "cost": cost,
        "currency": currency,
    }


def _exported_run(rec: dict[str, Any], *, file: Path, row: int) -> dict[str, Any]:
    """An experiment-tracker run export line (no ``schema``), as ``mlcost demo`` writes."""
    params = str_map(rec.get("params"), file=file, row=row, column="params")
    tags = {k: str(rec[k]) for k in ("team", "model") if rec.get(k)}
    start = parse_time(rec.get("start"), file=file, row=row, column="start")
    end = parse_time(rec.get("end"), file=file, row=row, column="end")
    gpus = number(params.get("gpus"), file=file, row=row, column="params.gpus")
    return {
        "workload_id": f"tracker:{rec['run_id']}",
        "kind": _text(rec.get("kind")),
        "name": _text(rec.get("run_name")),
        "status": str(rec.get("status", "")).lower() or None,
        "start": start,
        "end": end,
        "resource_id": _text(rec.get("resource_id")),
        "instance_type": _text(rec.get("instance_type")),
        "gpu_count": gpus,
        "gpu_hours": gpus * (end - start).total_seconds() / 3600
        if gpus and start and end
        else None,
        "experiment": _text(rec.get("experiment")),
        "run_id": str(rec["run_id"]),
        "tags": tags,
        "params": params,
        "metrics": {
            str(k): number(v, file=file, row=row, column=f"metrics.{k}")
            for k, v in (rec.get("metrics") or {}).items()
        },
        "history": _history(rec.get("metric_history"), f"tracker:{rec['run_id']}", file, row),
    }


def _history(value: Any, workload_id: str, file: Path, row: int) -> list[dict[str, Any]]:
    """``metric_history`` (name → list of {step, time, value}) as ``run_metrics`` rows."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise BadValue("is not a JSON object", file=file, row=row, column="metric_history")
    out = []
    for key, points in value.items():
        if not isinstance(points, list):
            raise BadValue(
                "is not a list of {step, time, value}",
                file=file,
                row=row,
                column=f"metric_history.{key}",
            )
        for p in points:
            out.append(_metric_point(p, workload_id, str(key), file, row, f"metric_history.{key}"))
    return out


def _metric_point(
    p: Any, workload_id: str, key: str, file: Path, row: int, column: str
) -> dict[str, Any]:
    if not isinstance(p, dict) or p.get("value") is None:
        raise BadValue(
            "is not an object with a value",
            file=file,
            row=row,
            column=column,
            fix='Write each point as {"step": 100, "time": "2026-05-01T10:00:00Z", "value": 0.5}.',
        )
    step = number(p.get("step"), file=file, row=row, column=f"{column}.step")
    return {
        "workload_id": workload_id,
        "key": key,
        "step": None if step is None else int(step),
        "time": parse_time(p.get("time"), file=file, row=row, column=f"{column}.time"),
        "value": number(p["value"], file=file, row=row, column=f"{column}.value"),
    }


def _sample(rec: dict[str, Any], *, file: Path, row: int) -> dict[str, Any]:
    def n(column: str) -> float | None:
        return number(rec.get(column), file=file, row=row, column=column)

    util = n("utilization")
    if util is not None and not 0 <= util <= 1:
        raise BadValue(
            f"utilization {util} is outside 0..1", file=file, row=row, column="utilization"
        )
    index = n("gpu_index")
    return {
        "time": parse_time(rec.get("time"), file=file, row=row, column="time"),
        "run_id": _text(rec.get("run_id")),
        "resource_id": _text(rec.get("resource_id")),
        "gpu_index": int(index) if index is not None else None,
        "gpu_uuid": _text(rec.get("uuid")),
        "gpu_model": gpu_model_name(_text(rec.get("gpu_model"))),
        "utilization": util,
        "memory_used_bytes": n("memory_used_bytes"),
        "memory_total_bytes": n("memory_total_bytes"),
        "power_watts": n("power_watts"),
    }


def _cache(rec: dict[str, Any], *, file: Path, row: int) -> dict[str, Any]:
    saved, currency = _money(rec.get("saved"), file=file, row=row, column="saved")
    hits = number(rec.get("hits"), file=file, row=row, column="hits")
    misses = number(rec.get("misses"), file=file, row=row, column="misses")
    if not rec.get("cache"):
        raise BadValue("is missing", file=file, row=row, column="cache")
    return {
        "time": parse_time(rec.get("time"), file=file, row=row, column="time"),
        "run_id": _text(rec.get("run_id")),
        "cache": str(rec["cache"]),
        "hits": int(hits) if hits is not None else None,
        "misses": int(misses) if misses is not None else None,
        "saved_seconds": number(
            rec.get("saved_seconds"), file=file, row=row, column="saved_seconds"
        ),
        "saved": saved,
        "currency": currency,
    }


def read_records(
    files: Iterable[Path],
) -> tuple[
    dict[str, dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]
]:
    """Runs by run_id (last line wins), GPU samples, cache stats and metric points."""
    runs: dict[str, dict[str, Any]] = {}
    samples: list[dict[str, Any]] = []
    caches: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    for path in files:
        with open_text(path) as fh:
            for number_, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as exc:
                    raise InvalidInput(
                        f"is not valid JSON ({exc})",
                        file=path,
                        row=number_,
                        fix="Each line must be one JSON object; a partly written last line "
                        "means the file was read before the tracker renamed it from .tmp.",
                    ) from None
                if not isinstance(rec, dict):
                    raise InvalidInput("is not a JSON object", file=path, row=number_)
                if "schema" not in rec and "run_id" in rec and "experiment" in rec:
                    run = _exported_run(rec, file=path, row=number_)
                    runs[run["run_id"]] = run
                    continue
                if rec.get("schema") != SCHEMA:
                    raise BadValue(
                        f"schema {rec.get('schema')!r} is not {SCHEMA}",
                        file=path,
                        row=number_,
                        column="schema",
                        fix="Upgrade mlcost to read records of a newer tracker.",
                    )
                kind = rec.get("kind")
                if kind == "run":
                    if not rec.get("run_id"):
                        raise BadValue("is missing", file=path, row=number_, column="run_id")
                    run = _run(rec, file=path, row=number_)
                    runs[run["run_id"]] = run
                elif kind == "gpu_sample":
                    samples.append(_sample(rec, file=path, row=number_))
                elif kind == "cache_stats":
                    caches.append(_cache(rec, file=path, row=number_))
                elif kind == "metric":
                    if not rec.get("run_id") or not rec.get("key"):
                        raise BadValue(
                            "needs run_id and key", file=path, row=number_, column="run_id"
                        )
                    metrics.append(
                        _metric_point(
                            rec, f"tracker:{rec['run_id']}", str(rec["key"]), path, number_, "value"
                        )
                    )
                else:
                    raise BadValue(
                        f"kind {kind!r} is not one of {', '.join(KINDS)}",
                        file=path,
                        row=number_,
                        column="kind",
                    )
    for run in runs.values():
        metrics.extend(run.pop("history", []))
    return runs, samples, caches, metrics


def ingest_tracker(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path,
    *,
    resolution: int = DEFAULT_RESOLUTION_S,
) -> LoadResult:
    """Load tracker spool files (a spool directory or files) in one transaction.

    Files still being written (``*.jsonl.tmp``) are not read.
    """
    found = gather(paths, SUFFIXES, "tracker spool (*.jsonl)")
    runs, samples, caches, metrics = read_records(found.files)

    def write(ingest_id: int) -> Written:
        written = Written()
        for s in samples:
            run = runs.get(s["run_id"] or "")
            s["resource_id"] = (
                s["resource_id"]
                or (run or {}).get("resource_id")
                or (f"run:{s['run_id']}" if s["run_id"] else "unknown")
            )
            s["labels"] = {"run_id": s["run_id"]} if s["run_id"] else {}
        rows = downsample(samples, resolution)
        if rows:
            written.add(
                "gpu_samples",
                warehouse.insert_arrow(
                    "gpu_samples",
                    arrow_rows("gpu_samples", rows, source=NAME, ingest_id=ingest_id),
                ),
            )
        if runs:
            written.add(
                "workloads",
                warehouse.insert_arrow(
                    "workloads",
                    arrow_rows("workloads", runs.values(), source=NAME, ingest_id=ingest_id),
                ),
            )
            written.rows_replaced += warehouse.delete_replaced(
                "workloads", "workload_id", ingest_id
            )
        if metrics:
            written.add(
                "run_metrics",
                warehouse.insert_arrow(
                    "run_metrics",
                    arrow_rows("run_metrics", metrics, source=NAME, ingest_id=ingest_id),
                ),
            )
            # A newer load of a run's history replaces the earlier one.
            written.rows_replaced += warehouse.delete_replaced(
                "run_metrics", "workload_id", ingest_id
            )
        if caches:
            written.add(
                "cache_stats",
                warehouse.insert_arrow(
                    "cache_stats",
                    arrow_rows("cache_stats", caches, source=NAME, ingest_id=ingest_id),
                ),
            )
        return written

    return load_once(warehouse, NAME, found, write, options={"resolution": resolution})


ingest = ingest_tracker
SOURCE = Source(
    NAME,
    DESCRIPTION,
    ("workloads", "gpu_samples", "run_metrics", "cache_stats"),
    ingest,
    detect,
    stage=WORKLOADS,
)
