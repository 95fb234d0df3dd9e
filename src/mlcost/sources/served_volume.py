"""Inference served volume (requests, tokens) per endpoint → ``workloads`` rows of kind inference.

Two inputs, one shape of result (one row per endpoint per window):

- a CSV with the header ``endpoint,start,end,requests`` and optional ``tokens``,
  ``resource_id`` (the billed resource or node the endpoint runs on) and ``model``;
- Prometheus counters (``--url``): ``sum by (LABEL) (increase(METRIC[STEP]))`` for the
  requests counter and, if given, a tokens counter, per ``STEP`` window between start and end.

Each row's ``workload_id`` is ``served:<endpoint>:<window start>``, so a later export of the
same window replaces the earlier one. Attribution divides an endpoint's cost in a window by
these counts for cost per 1,000 predictions and per 1M tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import BadValue, InvalidInput
from mlcost.sources._common import (
    WORKLOADS,
    LoadResult,
    Source,
    Written,
    csv_records,
    gather,
    hashed,
    load_once,
    number,
    parse_time,
    sha256_bytes,
    sniff_columns,
)
from mlcost.sources._tables import arrow_rows

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

NAME = "served"
DESCRIPTION = "Inference served volume per endpoint (requests, tokens): CSV or Prometheus counters"
SUFFIXES = (".csv", ".csv.gz")
REQUIRED = ("endpoint", "start", "end", "requests")
OPTIONAL = ("tokens", "resource_id", "model")


def detect(path: Path) -> bool:
    return set(REQUIRED) <= set(sniff_columns(path, SUFFIXES))


def _row(endpoint: str, start: datetime, end: datetime, **fields: Any) -> dict[str, Any]:
    model = fields.pop("model", None)
    return {
        "workload_id": f"{NAME}:{endpoint}:{start:%Y-%m-%dT%H:%M:%SZ}",
        "kind": "inference",
        "name": endpoint,
        "status": "finished",
        "start": start,
        "end": end,
        "tags": {"endpoint": endpoint, **({"model": model} if model else {})},
        **fields,
    }


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a served-volume CSV, each checked; errors name the row and column."""
    rows: list[dict[str, Any]] = []
    records = csv_records(
        path,
        REQUIRED,
        what="served-volume CSV",
        fix="Write the header endpoint,start,end,requests[,tokens,resource_id,model].",
    )
    for n, rec in records:
        if not rec["endpoint"]:
            raise BadValue("has no endpoint", file=path, row=n, column="endpoint")
        start = parse_time(rec["start"], file=path, row=n, column="start")
        end = parse_time(rec["end"], file=path, row=n, column="end")
        if start is None or end is None or end <= start:
            raise BadValue(
                "needs a start before its end",
                file=path,
                row=n,
                column="end",
                fix="Give each window as start < end (RFC 3339, UTC).",
            )
        counts = {c: number(rec.get(c), file=path, row=n, column=c) for c in ("requests", "tokens")}
        for column, value in counts.items():
            if value is not None and value < 0:
                raise BadValue(
                    f"{value} is negative",
                    file=path,
                    row=n,
                    column=column,
                    fix="Counts of requests and tokens are zero or more.",
                )
        if counts["requests"] is None:
            raise BadValue("is empty", file=path, row=n, column="requests")
        rows.append(
            _row(
                rec["endpoint"],
                start,
                end,
                requests=counts["requests"],
                tokens=counts["tokens"],
                resource_id=rec.get("resource_id") or None,
                model=rec.get("model") or None,
            )
        )
    return rows


def query_counters(
    url: str,
    start: datetime,
    end: datetime,
    *,
    requests_metric: str,
    tokens_metric: str | None = None,
    label: str = "endpoint",
    step: int = 3600,
) -> tuple[list[dict[str, Any]], bytes]:
    """Windows of ``step`` seconds from Prometheus counters, and the raw answers (for the hash)."""
    from mlcost.sources.prometheus import query_range

    fields = {"requests": requests_metric, **({"tokens": tokens_metric} if tokens_metric else {})}
    found: dict[tuple[str, datetime], dict[str, Any]] = {}
    raw: list[bytes] = []
    for field, metric in fields.items():
        # increase() over [t - step, t): the window ending at each evaluation time.
        doc = query_range(
            url,
            f"sum by ({label}) (increase({metric}[{step}s]))",
            start + timedelta(seconds=step),
            end,
            step,
        )
        raw.append(json.dumps(doc, sort_keys=True).encode())
        for series in doc["data"]["result"]:
            endpoint = series["metric"].get(label)
            if not endpoint:
                continue
            for stamp, value in series["values"]:
                window_end = datetime.fromtimestamp(round(float(stamp)), UTC).replace(tzinfo=None)
                window_start = window_end - timedelta(seconds=step)
                row = found.setdefault(
                    (endpoint, window_start), _row(endpoint, window_start, window_end)
                )
                row[field] = float(value)
    rows = [r for r in found.values() if "requests" in r]
    rows.sort(key=lambda r: (r["name"], r["start"]))
    return rows, b"".join(raw)


def ingest_served(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path = (),
    *,
    url: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    requests_metric: str | None = None,
    tokens_metric: str | None = None,
    label: str = "endpoint",
    step: int = 3600,
) -> LoadResult:
    """Load served volume from CSV files and/or Prometheus counters, in one transaction."""
    if isinstance(paths, str | Path):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    inputs = gather(paths, SUFFIXES, "served-volume CSV files") if paths else hashed([])
    for f in inputs.files:
        rows.extend(read_csv(f))
    if url:
        if start is None or end is None or end <= start or not requests_metric:
            raise InvalidInput(
                "a Prometheus load of served volume needs a window and a requests counter",
                fix="Pass --start, --end (end after start) and --requests-metric NAME.",
            )
        fetched, raw = query_counters(
            url,
            start,
            end,
            requests_metric=requests_metric,
            tokens_metric=tokens_metric,
            label=label,
            step=step,
        )
        rows.extend(fetched)
        inputs = inputs.plus(
            f"{url} {start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}", sha256_bytes(raw)
        )
    if not inputs.hashes:
        raise InvalidInput("nothing to load", fix="Give served-volume CSV files or --url.")

    def write(ingest_id: int) -> Written:
        written = Written()
        table = arrow_rows("workloads", rows, source=NAME, ingest_id=ingest_id)
        written.add("workloads", warehouse.insert_arrow("workloads", table))
        written.rows_replaced = warehouse.delete_replaced("workloads", "workload_id", ingest_id)
        return written

    options = {"label": label, "step": step, "requests": requests_metric, "tokens": tokens_metric}
    return load_once(warehouse, NAME, inputs, write, options=options)


ingest = ingest_served
SOURCE = Source(NAME, DESCRIPTION, ("workloads",), ingest, detect, stage=WORKLOADS)
