"""Normalize SkyPilot-format ``vms.csv`` price lists into mlcost's catalog rows.

Used at build time by ``scripts/build_catalog.py`` and at run time by ``mlcost catalog import
skypilot DIR``; nothing here fetches anything.

SkyPilot's files are per cloud, and their columns come in different orders from cloud to cloud;
we read them by header name. Dirty values handled here (all seen in the 2026 files):

- Azure rows whose ``Generation`` is an unquoted ``V1,V2`` carry one field too many; the tail is
  folded back into the last column.
- A price of 0 or an empty price means "unknown", not "free" (GCP ``a4-highgpu-8g`` hosts,
  Vast spot prices).
- A spot price equal to (within 1%) or above the on-demand price is not a spot discount but a
  placeholder (several AWS, Azure and RunPod rows); it is dropped.
- GCP lists GPU-attached machines as a host VM plus separately priced accelerators; we compose
  them into one offer per (host, GPU, count, zone).
- TPUs and rows without an accelerator are not GPU offers and are left out.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from mlcost.catalog._names import canonical_gpu, default_memory_gib
from mlcost.errors import MissingColumn

__all__ = ["COLUMNS", "collapse_zones", "normalize", "read_rows"]

COLUMNS = (
    "cloud",
    "instance_type",
    "gpu",
    "gpu_count",
    "gpu_memory_gib",
    "vcpus",
    "memory_gib",
    "region",
    "zone",
    "ondemand_usd_per_hour",
    "spot_usd_per_hour",
    "reserved_1y_usd_per_hour",
    "interruption",
    "price_date",
    "source",
)

Row = dict[str, str]

# GCP host families that carry GPUs of their own (SkyPilot's GCP catalog, 2026): name pattern ->
# (accelerator name in the same file, GPU count or None to read it from the name).
_GCP_HOSTS: list[tuple[re.Pattern[str], str, int | None]] = [
    (re.compile(r"^a2-highgpu-(\d+)g$"), "A100", None),
    (re.compile(r"^a2-megagpu-(\d+)g$"), "A100", None),
    (re.compile(r"^a2-ultragpu-(\d+)g$"), "A100-80GB", None),
    (re.compile(r"^a3-highgpu-(\d+)g$"), "H100", None),
    (re.compile(r"^a3-megagpu-(\d+)g$"), "H100-MEGA", None),
    (re.compile(r"^a3-ultragpu-(\d+)g$"), "H200", None),
    (re.compile(r"^a4-highgpu-(\d+)g$"), "B200", None),
    (re.compile(r"^g2-standard-(4|8|12|16|32)$"), "L4", 1),
    (re.compile(r"^g2-standard-24$"), "L4", 2),
    (re.compile(r"^g2-standard-48$"), "L4", 4),
    (re.compile(r"^g2-standard-96$"), "L4", 8),
]
# Older GPUs attach to general-purpose N1 hosts; we price the host SkyPilot launches by default
# for them, n1-highmem-8 per GPU up to 64 vCPUs (SkyPilot GCP defaults, 2026).
_N1_GPUS = frozenset({"T4", "V100", "P100", "P4"})


def read_rows(path: Path) -> list[Row]:
    """Rows of a SkyPilot-format CSV as dicts keyed by its own header."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return []
        rows = []
        for fields in reader:
            if not fields:
                continue
            if len(fields) > len(header):  # Azure's unquoted "V1,V2"
                fields = [*fields[: len(header) - 1], ",".join(fields[len(header) - 1 :])]
            rows.append(dict(zip(header, fields, strict=False)))
    for needed in ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region"):
        if rows and needed not in rows[0]:
            raise MissingColumn(
                "not a SkyPilot vms.csv",
                file=path,
                column=needed,
                fix="point at a SkyPilot catalog folder such as catalogs/v8/ (<cloud>/vms.csv)",
            )
    return rows


def _price(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    value = float(text)
    return value if value > 0 else None


def _spot(ondemand: float | None, spot: float | None) -> float | None:
    # Within 1% of on-demand counts as "equal": the files round spot to 4 decimals (AWS p4d).
    if spot is None or (ondemand is not None and spot >= 0.99 * ondemand):
        return None
    return spot


def _count(text: str | None) -> int:
    return round(float(text)) if text and text.strip() else 0


def _memory_from_info(info: str | None) -> float | None:
    """Per-GPU memory (GiB) from a GpuInfo cell (Python-literal or JSON dict), if stated."""
    if not info or "{" not in info:
        return None
    try:
        data = json.loads(info)
    except ValueError:
        try:
            data = ast.literal_eval(info)
        except (ValueError, SyntaxError):
            return None
    try:
        # Per-GPU size; TotalGpuMemoryInMiB is unreliable (Lambda repeats the per-GPU value).
        mib = float(data["Gpus"][0]["MemoryInfo"]["SizeInMiB"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return round(mib / 1024, 1)


def _fmt(value: float | None) -> str:
    return "" if value is None else repr(round(value, 6))


def _offer(
    cloud: str,
    instance: str,
    accel: str,
    count: int,
    memory_per_gpu: float | None,
    vcpus: str,
    memory: str,
    region: str,
    zone: str,
    ondemand: float | None,
    spot: float | None,
    meta: Mapping[str, str],
) -> Row:
    gpu = canonical_gpu(accel)
    if gpu == "A100-40GB" and memory_per_gpu and memory_per_gpu >= 70:
        gpu = "A100-80GB"
    known = default_memory_gib(gpu)
    if memory_per_gpu and known and count > 1 and memory_per_gpu > 1.5 * known:
        memory_per_gpu = round(memory_per_gpu / count, 1)  # Vast states the instance total
    mem = memory_per_gpu or known
    return {
        "cloud": cloud,
        "instance_type": instance,
        "gpu": gpu,
        "gpu_count": str(count),
        "gpu_memory_gib": _fmt(mem),
        "vcpus": _fmt(_price(vcpus)),
        "memory_gib": _fmt(_price(memory)),
        "region": region,
        "zone": zone,
        "ondemand_usd_per_hour": _fmt(ondemand),
        "spot_usd_per_hour": _fmt(_spot(ondemand, spot)),
        "reserved_1y_usd_per_hour": "",
        "interruption": "",
        "price_date": meta.get("price_date", ""),
        "source": meta.get("source", ""),
    }


def _gcp(rows: list[Row], meta: Mapping[str, str]) -> list[Row]:
    hosts: dict[tuple[str, str, str], Row] = {}
    for r in rows:
        if r.get("InstanceType") and not r.get("AcceleratorName"):
            hosts[(r["InstanceType"], r["Region"], r.get("AvailabilityZone", ""))] = r
    gpus: dict[tuple[str, int, str, str], Row] = {}
    for r in rows:
        accel = r.get("AcceleratorName", "")
        if accel and not r.get("InstanceType") and not accel.startswith("tpu"):
            key = (accel, _count(r["AcceleratorCount"]), r["Region"], r.get("AvailabilityZone", ""))
            gpus[key] = r

    def compose(host: Row, gpu_row: Row, accel: str, count: int) -> Row:
        od_h, od_g = _price(host["Price"]), _price(gpu_row["Price"])
        sp_h, sp_g = _price(host.get("SpotPrice")), _price(gpu_row.get("SpotPrice"))
        return _offer(
            "gcp",
            host["InstanceType"],
            accel,
            count,
            _memory_from_info(gpu_row.get("GpuInfo")),
            host["vCPUs"],
            host["MemoryGiB"],
            host["Region"],
            host.get("AvailabilityZone", ""),
            od_h + od_g if od_h is not None and od_g is not None else None,
            sp_h + sp_g if sp_h is not None and sp_g is not None else None,
            meta,
        )

    out = []
    for (name, region, zone), host in hosts.items():
        for pattern, accel, fixed in _GCP_HOSTS:
            m = pattern.match(name)
            if m:
                count = fixed if fixed is not None else int(m.group(1))
                gpu_row = gpus.get((accel, count, region, zone))
                if gpu_row is not None:
                    out.append(compose(host, gpu_row, accel, count))
                break
    for (accel, count, region, zone), gpu_row in gpus.items():
        if accel in _N1_GPUS:
            n1 = hosts.get((f"n1-highmem-{min(8 * count, 64)}", region, zone))
            if n1 is not None:
                out.append(compose(n1, gpu_row, accel, count))
    return out


def normalize(cloud: str, rows: Iterable[Row], meta: Mapping[str, str]) -> list[Row]:
    """GPU offers of one cloud, one row per (instance type, region, zone), not yet collapsed."""
    rows = list(rows)
    if cloud == "gcp":
        return _gcp(rows, meta)
    out = []
    for r in rows:
        accel = r.get("AcceleratorName", "")
        count = _count(r.get("AcceleratorCount"))
        if not accel or count <= 0 or accel.lower().startswith("tpu"):
            continue
        ondemand = _price(r.get("Price"))
        out.append(
            _offer(
                cloud,
                r["InstanceType"],
                accel,
                count,
                _memory_from_info(r.get("GpuInfo")),
                r.get("vCPUs", ""),
                r.get("MemoryGiB", ""),
                r["Region"],
                r.get("AvailabilityZone", ""),
                ondemand,
                _price(r.get("SpotPrice")),
                meta,
            )
        )
    return out


def collapse_zones(rows: Iterable[Row]) -> list[Row]:
    """One row per (cloud, instance, region) when its zones agree on price; per zone otherwise."""
    groups: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r["cloud"], r["instance_type"], r["region"])].append(r)
    out = []
    for members in groups.values():
        prices = {(m["ondemand_usd_per_hour"], m["spot_usd_per_hour"]) for m in members}
        if len(prices) == 1:
            out.append({**members[0], "zone": ""})
        else:
            seen = set()
            for m in sorted(members, key=lambda m: m["zone"]):
                if m["zone"] not in seen:
                    seen.add(m["zone"])
                    out.append(m)
    out.sort(key=lambda r: (r["cloud"], r["instance_type"], r["region"], r["zone"]))
    return out
