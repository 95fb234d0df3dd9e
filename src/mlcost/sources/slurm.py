"""Slurm accounting: ``sacct --parsable2`` output → ``workloads``.

Reads what ``sacct --parsable2 --allocations --format=JobID,JobName,User,Account,Partition,
AllocTRES,NodeList,Submit,Start,End,Elapsed,State,ExitCode[,Comment,WCKey,Cluster]`` prints:
a header line, then ``|``-separated fields. Job steps (``123.batch``, ``123.0``) are skipped:
they run inside their job's allocation, so counting them would count its GPUs twice. A job on
several nodes (``NodeList=gpu-[01-02]``) gives one row per node with its share of the GPUs.
GPUs come from ``AllocTRES`` ``gres/gpu=N`` (or ``gres/gpu:a100=N``, which also names the
model). ``Comment`` written as ``key=value,...`` or a JSON object and ``WCKey`` become tags.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mlcost.errors import BadValue, MissingColumn
from mlcost.sources._common import (
    WORKLOADS,
    LoadResult,
    Source,
    Written,
    gather,
    gpu_model_name,
    load_once,
    open_text,
    sniff_columns,
)
from mlcost.sources._tables import arrow_rows

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

NAME = "slurm"
DESCRIPTION = "Slurm sacct --parsable2 output (gres/gpu) → workloads"
SUFFIXES = (".txt", ".psv", ".sacct", ".log")
REQUIRED = ("JobID", "Start", "End", "NodeList")
_UNSET = ("", "Unknown", "None", "N/A")
_ELAPSED = re.compile(r"^(?:(\d+)-)?(\d+):(\d{2}):(\d{2})$")
_GPU_TRES = re.compile(r"gres/gpu(?::([\w.-]+))?=(\d+)")


def detect(path: Path) -> bool:
    header = sniff_columns(path, None, delimiter="|")
    return "JobID" in header and len(header) > 3


def expand_nodelist(text: str) -> list[str]:
    """Slurm host list → host names: ``gpu-[01-03,07],cpu-1`` → gpu-01, gpu-02, gpu-03, ...

    >>> expand_nodelist("gpu-[01-02,07],login")
    ['gpu-01', 'gpu-02', 'gpu-07', 'login']
    """
    hosts: list[str] = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?[^,]*", text):
        m = re.fullmatch(r"(.*)\[([^\]]*)\](.*)", part)
        if not m:
            hosts.append(part)
            continue
        prefix, ranges, suffix = m.groups()
        for item in ranges.split(","):
            lo, _, hi = item.partition("-")
            width = len(lo)
            for n in range(int(lo), int(hi or lo) + 1):
                hosts.append(f"{prefix}{n:0{width}d}{suffix}")
    return [h for h in hosts if h and h not in _UNSET and h != "None assigned"]


def _elapsed_hours(text: str, *, file: Path, row: int) -> float | None:
    if text in _UNSET:
        return None
    m = _ELAPSED.match(text)
    if not m:
        raise BadValue(
            f"{text!r} is not a Slurm elapsed time ([D-]HH:MM:SS)",
            file=file,
            row=row,
            column="Elapsed",
        )
    days, h, mi, s = (int(x or 0) for x in m.groups())
    return days * 24 + h + mi / 60 + s / 3600


def _time(text: str, tz: ZoneInfo, *, file: Path, row: int, column: str) -> datetime | None:
    if text in _UNSET:
        return None
    try:
        local = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=tz)
    except ValueError:
        raise BadValue(
            f"{text!r} is not a sacct time (YYYY-MM-DDTHH:MM:SS)",
            file=file,
            row=row,
            column=column,
        ) from None
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _tags(fields: dict[str, str]) -> dict[str, str]:
    tags = {k.lower(): fields[k] for k in ("Account", "Partition") if fields.get(k)}
    if fields.get("WCKey") and fields["WCKey"] not in _UNSET:
        tags["wckey"] = fields["WCKey"].lstrip("*")
    comment = fields.get("Comment", "").strip()
    if comment.startswith("{"):
        try:
            parsed = json.loads(comment)
            if isinstance(parsed, dict):
                tags.update({str(k): str(v) for k, v in parsed.items()})
        except ValueError:
            tags["comment"] = comment
    elif "=" in comment:
        for pair in comment.split(","):
            k, _, v = pair.partition("=")
            if k.strip():
                tags[k.strip()] = v.strip()
    elif comment:
        tags["comment"] = comment
    return tags


def read_jobs(path: Path, tz: ZoneInfo) -> list[dict[str, Any]]:
    """One workload row per job allocation and node."""
    rows: list[dict[str, Any]] = []
    with open_text(path) as fh:
        header = fh.readline().rstrip("\r\n").split("|")
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise MissingColumn(
                f"is not sacct --parsable2 output with the column(s) {', '.join(missing)}",
                file=path,
                column=missing[0],
                fix="Run sacct --parsable2 --allocations --format=JobID,JobName,User,Account,"
                "Partition,AllocTRES,NodeList,Submit,Start,End,Elapsed,State,ExitCode",
            )
        for number_, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            values = line.split("|")
            if len(values) != len(header):
                raise BadValue(
                    f"has {len(values)} fields, the header has {len(header)}",
                    file=path,
                    row=number_,
                    fix="Use --parsable2 (no trailing |) and keep '|' out of job names.",
                )
            f = dict(zip(header, values, strict=True))
            job = f["JobID"]
            if "." in job:
                continue  # a step inside its job's allocation
            tres = f.get("AllocTRES", "")
            gpus = sum(int(n) for _, n in _GPU_TRES.findall(tres))
            models = {m for m, _ in _GPU_TRES.findall(tres) if m}
            nodes = expand_nodelist(f["NodeList"]) or [""]
            start = _time(f["Start"], tz, file=path, row=number_, column="Start")
            end = _time(f["End"], tz, file=path, row=number_, column="End")
            hours = _elapsed_hours(f.get("Elapsed", ""), file=path, row=number_)
            if hours is None and start and end:
                hours = (end - start) / timedelta(hours=1)
            cluster = f.get("Cluster") or None
            for node in nodes:
                share = gpus / len(nodes)
                rows.append(
                    {
                        "workload_id": f"slurm:{cluster + ':' if cluster else ''}{job}",
                        "kind": "batch",
                        "name": f.get("JobName") or None,
                        "status": (f.get("State") or "").split(" ")[0].lower() or None,
                        "start": start,
                        "end": end,
                        "node": node or None,
                        "cluster": cluster,
                        "owner": f.get("User") or None,
                        "gpu_count": share,
                        "gpu_model": gpu_model_name(next(iter(models)))
                        if len(models) == 1
                        else None,
                        "gpu_hours": share * hours if hours is not None else None,
                        "tags": _tags(f),
                    }
                )
    return rows


def ingest_slurm(
    warehouse: Warehouse, paths: Iterable[str | Path] | str | Path, *, timezone: str = "UTC"
) -> LoadResult:
    """Load sacct --parsable2 output in one transaction; ``timezone`` is the cluster's."""
    tz = ZoneInfo(timezone)
    found = gather(paths, SUFFIXES, "sacct output")
    jobs = [row for f in found.files for row in read_jobs(f, tz)]

    def write(ingest_id: int) -> Written:
        written = Written()
        table = arrow_rows("workloads", jobs, source=NAME, ingest_id=ingest_id)
        written.add("workloads", warehouse.insert_arrow("workloads", table))
        written.rows_replaced = warehouse.delete_replaced("workloads", "workload_id", ingest_id)
        return written

    return load_once(warehouse, NAME, found, write, options={"timezone": timezone})


ingest = ingest_slurm
SOURCE = Source(NAME, DESCRIPTION, ("workloads",), ingest, detect, stage=WORKLOADS)
