"""Down-sampling of GPU samples parsed in Python into buckets.

nvidia-smi ``--format=csv`` logs are summarized by DuckDB itself; sources that parse records
in Python (tracker spool, DCGM OpenMetrics, ``nvidia-smi dmon``) hand raw samples here. Each
bucket keeps mean, min and max utilization, mean and max memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1)


@dataclass
class _Bucket:
    gpu_uuid: str | None
    gpu_model: str | None
    labels: Mapping[str, str]
    n: int = 0
    util: list[float] = field(default_factory=list)
    used: list[float] = field(default_factory=list)
    total: float | None = None
    power: list[float] = field(default_factory=list)


def bucket_start(time: datetime, resolution: int) -> datetime:
    seconds = int((time - _EPOCH).total_seconds()) // resolution * resolution
    return _EPOCH + timedelta(seconds=seconds)


def downsample(samples: Iterable[Mapping[str, Any]], resolution: int) -> list[dict[str, Any]]:
    """Raw samples (``time``, ``resource_id``, ``gpu_index``, ``utilization``, ...) → rows.

    Samples of one GPU are keyed by resource, GPU index (or UUID), MIG instance (the
    ``GPU_I_ID`` label, so the instances of one GPU stay apart) and bucket start.
    """
    buckets: dict[tuple[Any, ...], _Bucket] = {}
    for s in samples:
        key = (
            s["resource_id"],
            s.get("gpu_index"),
            s.get("gpu_uuid") if s.get("gpu_index") is None else None,
            (s.get("labels") or {}).get("GPU_I_ID"),
            bucket_start(s["time"], resolution),
        )
        b = buckets.get(key)
        if b is None:
            b = buckets[key] = _Bucket(s.get("gpu_uuid"), s.get("gpu_model"), s.get("labels") or {})
        b.n += 1
        if s.get("utilization") is not None:
            b.util.append(float(s["utilization"]))
        if s.get("memory_used_bytes") is not None:
            b.used.append(float(s["memory_used_bytes"]))
        if s.get("memory_total_bytes") is not None:
            b.total = max(b.total or 0.0, float(s["memory_total_bytes"]))
        if s.get("power_watts") is not None:
            b.power.append(float(s["power_watts"]))
        b.gpu_uuid = b.gpu_uuid or s.get("gpu_uuid")
        b.gpu_model = b.gpu_model or s.get("gpu_model")
    rows = []
    for (resource, index, _, _, start), b in sorted(buckets.items(), key=lambda kv: str(kv[0])):
        rows.append(
            {
                "time": start,
                "resolution_s": resolution,
                "resource_id": resource,
                "gpu_index": index,
                "gpu_uuid": b.gpu_uuid,
                "gpu_model": b.gpu_model,
                "utilization": sum(b.util) / len(b.util) if b.util else None,
                "utilization_min": min(b.util) if b.util else None,
                "utilization_max": max(b.util) if b.util else None,
                "memory_used_bytes": round(sum(b.used) / len(b.used)) if b.used else None,
                "memory_used_max_bytes": round(max(b.used)) if b.used else None,
                "memory_total_bytes": round(b.total) if b.total is not None else None,
                "power_watts": sum(b.power) / len(b.power) if b.power else None,
                "sample_count": b.n,
                "labels": dict(b.labels),
            }
        )
    return rows
