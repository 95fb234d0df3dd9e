"""Arrow shapes of the canonical tables that sources fill from parsed records.

Sources that parse records in Python (JSON lines, sacct, OpenCost, MLflow, Prometheus) build
plain dicts; :func:`arrow_rows` turns them into an Arrow table of the warehouse's column types
so that :meth:`Warehouse.insert_arrow` can load them in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _schemas() -> dict[str, Any]:
    import pyarrow as pa

    smap = pa.map_(pa.string(), pa.string())
    return {
        "gpu_samples": pa.schema(
            [
                ("time", pa.timestamp("us")),
                ("resolution_s", pa.int32()),
                ("resource_id", pa.string()),
                ("gpu_index", pa.int32()),
                ("gpu_uuid", pa.string()),
                ("gpu_model", pa.string()),
                ("utilization", pa.float64()),
                ("utilization_min", pa.float64()),
                ("utilization_max", pa.float64()),
                ("memory_used_bytes", pa.int64()),
                ("memory_used_max_bytes", pa.int64()),
                ("memory_total_bytes", pa.int64()),
                ("power_watts", pa.float64()),
                ("sample_count", pa.int32()),
                ("labels", smap),
                ("source", pa.string()),
                ("ingest_id", pa.int64()),
            ]
        ),
        "workloads": pa.schema(
            [
                ("workload_id", pa.string()),
                ("source", pa.string()),
                ("kind", pa.string()),
                ("name", pa.string()),
                ("status", pa.string()),
                ("start", pa.timestamp("us")),
                ("end", pa.timestamp("us")),
                ("resource_id", pa.string()),
                ("node", pa.string()),
                ("cluster", pa.string()),
                ("owner", pa.string()),
                ("gpu_count", pa.float64()),
                ("gpu_model", pa.string()),
                ("instance_type", pa.string()),
                ("gpu_hours", pa.float64()),
                ("used_gpu_hours", pa.float64()),
                ("experiment", pa.string()),
                ("run_id", pa.string()),
                ("tags", smap),
                ("params", smap),
                ("metrics", pa.map_(pa.string(), pa.float64())),
                ("requests", pa.float64()),
                ("tokens", pa.float64()),
                ("cost", pa.decimal128(38, 12)),
                ("currency", pa.string()),
                ("ingest_id", pa.int64()),
            ]
        ),
        "run_metrics": pa.schema(
            [
                ("workload_id", pa.string()),
                ("key", pa.string()),
                ("step", pa.int64()),
                ("time", pa.timestamp("us")),
                ("value", pa.float64()),
                ("source", pa.string()),
                ("ingest_id", pa.int64()),
            ]
        ),
        "served_tokens": pa.schema(
            [
                ("ts", pa.timestamp("us")),
                ("source", pa.string()),
                ("endpoint", pa.string()),
                ("model", pa.string()),
                ("tenant", pa.string()),
                ("input_tokens", pa.int64()),
                ("output_tokens", pa.int64()),
                ("requests", pa.int64()),
                ("prefill_seconds", pa.float64()),
                ("decode_seconds", pa.float64()),
                ("row_key", pa.string()),
                ("ingest_id", pa.int64()),
            ]
        ),
        "cache_stats": pa.schema(
            [
                ("time", pa.timestamp("us")),
                ("run_id", pa.string()),
                ("cache", pa.string()),
                ("hits", pa.int64()),
                ("misses", pa.int64()),
                ("saved_seconds", pa.float64()),
                ("saved", pa.decimal128(38, 12)),
                ("currency", pa.string()),
                ("source", pa.string()),
                ("ingest_id", pa.int64()),
            ]
        ),
    }


def _map_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return list(value.items()) if value else None
    return value


def arrow_rows(table: str, records: Iterable[Mapping[str, Any]], **constant: Any) -> Any:
    """An Arrow table of ``table``'s shape; absent keys are null, ``constant`` fills every row."""
    import pyarrow as pa

    schema = _schemas()[table]
    rows = list(records)
    columns = {}
    for f in schema:
        if f.name in constant:
            columns[f.name] = pa.array([constant[f.name]] * len(rows), type=f.type)
        elif pa.types.is_map(f.type):
            columns[f.name] = pa.array([_map_value(r.get(f.name)) for r in rows], type=f.type)
        else:
            columns[f.name] = pa.array([r.get(f.name) for r in rows], type=f.type)
    return pa.table(columns, schema=schema)
