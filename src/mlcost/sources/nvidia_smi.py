"""``nvidia-smi --query-gpu=... --format=csv`` logs → ``gpu_samples``.

Reads the CSV that ``nvidia-smi --query-gpu=timestamp,index,uuid,name,utilization.gpu,
memory.used,memory.total,power.draw --format=csv -l N`` writes, with units in the header and
values (``19 %``, ``73789 MiB``) or without (``--format=csv,nounits``), plain or gzipped.
``[N/A]`` and ``[Not Supported]`` are empty values. Needed columns: ``timestamp``, ``index``
and ``utilization.gpu``; ``uuid``, ``name``, ``memory.*`` and ``power.draw`` are kept when
present.

The host of a log is ``resource`` (a billed ``ResourceId`` or the instance id inside it) or,
for each file, its name without ``.csv`` / ``.csv.gz``. DuckDB streams the files; samples are
summarized into buckets of ``resolution`` seconds (mean, min and max utilization).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import BadValue, InvalidInput, MissingColumn
from mlcost.sources._common import (
    TELEMETRY,
    LoadResult,
    Progress,
    Source,
    Written,
    expand_files,
    gpu_model_name,
    load_once,
    open_text,
    sha256_file,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse
    from mlcost.warehouse._functions import EngineFunctions

NAME = "nvidia-smi"
DESCRIPTION = "nvidia-smi --query-gpu --format=csv logs (one file per host) → gpu_samples"
SUFFIXES = (".csv", ".csv.gz")
DEFAULT_RESOLUTION_S = 60
TIME_FORMAT = "%Y/%m/%d %H:%M:%S.%f"  # nvidia-smi's timestamp: 2026/05/01 02:00:00.000
NOT_AVAILABLE = ("", "[N/A]", "N/A", "[Not Supported]", "[Unknown Error]", "[GPU is lost]")
REQUIRED = ("timestamp", "index", "utilization.gpu")
NUMERIC = ("utilization.gpu", "memory.used", "memory.total", "power.draw")
_MIB = 1 << 20


def _field(header: str) -> str:
    """'memory.used [MiB]' → 'memory.used' (the query field without its unit)."""
    return header.split("[", 1)[0].strip()


def read_header(path: Path) -> tuple[str, ...]:
    try:
        with open_text(path) as fh:
            header = next(csv.reader(fh), None)
    except (UnicodeDecodeError, OSError, csv.Error, EOFError) as exc:
        raise InvalidInput(f"cannot be read as UTF-8 CSV ({exc})", file=path) from exc
    return tuple(h.strip() for h in header or ())


def detect(path: Path) -> bool:
    if not path.name.lower().endswith(SUFFIXES):
        return False
    try:
        fields = {_field(h) for h in read_header(path)}
    except InvalidInput:
        return False
    return {"timestamp", "utilization.gpu"} <= fields


def _check_header(path: Path, header: tuple[str, ...]) -> None:
    fields = [_field(h) for h in header]
    missing = [c for c in REQUIRED if c not in fields]
    if missing:
        raise MissingColumn(
            f"is not an nvidia-smi --query-gpu log: no {', '.join(missing)} column",
            file=path,
            column=missing[0],
            fix="Log with nvidia-smi --query-gpu=timestamp,index,uuid,name,utilization.gpu,"
            "memory.used,memory.total,power.draw --format=csv -l 60 > HOST.csv",
        )


def _host_of(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _value(text: str | None) -> str | None:
    """A value without its unit, or None for nvidia-smi's not-available spellings."""
    if text is None:
        return None
    value = text.strip()
    if value in NOT_AVAILABLE:
        return None
    for unit in (" %", " MiB", " W", " MHz", "%", "MiB", "W"):
        if value.endswith(unit):
            return value[: -len(unit)].strip()
    return value


def _first_bad(path: Path) -> InvalidInput | None:
    """Re-read a file in Python to name the first bad row and column (only after a failure)."""
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = [_field(h) for h in next(reader)]
        for number, record in enumerate(reader, start=1):
            if not record:
                continue
            if len(record) != len(header):
                return InvalidInput(
                    f"has {len(record)} fields, the header has {len(header)}",
                    file=path,
                    row=number,
                    fix="A truncated last line (logging stopped mid-write) can be deleted.",
                )
            row = dict(zip(header, record, strict=True))
            stamp = (row.get("timestamp") or "").strip()
            try:
                datetime.strptime(stamp, TIME_FORMAT)
            except ValueError:
                return BadValue(
                    f"{stamp!r} is not an nvidia-smi timestamp (YYYY/MM/DD HH:MM:SS.mmm)",
                    file=path,
                    row=number,
                    column="timestamp",
                )
            for column in ("index", *NUMERIC):
                value = _value(row.get(column))
                if value is None:
                    continue
                try:
                    float(value)
                except ValueError:
                    return BadValue(
                        f"{row[column].strip()!r} is not a number",
                        file=path,
                        row=number,
                        column=column,
                        fix="Keep the log as nvidia-smi wrote it ([N/A] is read as empty).",
                    )
    return None


def _names(paths: Iterable[Path]) -> dict[str, str]:
    """Device names seen in the first lines of each file → canonical GPU model."""
    seen: dict[str, str] = {}
    for path in paths:
        with open_text(path) as fh:
            reader = csv.reader(fh)
            header = [_field(h) for h in next(reader, [])]
            if "name" not in header:
                continue
            at = header.index("name")
            for _, record in zip(range(64), reader, strict=False):
                if len(record) > at:
                    raw = record[at].strip()
                    seen.setdefault(raw, gpu_model_name(raw) or raw)
    return seen


def _query(
    t: ir.Table,
    header: tuple[str, ...],
    *,
    resource: str | None,
    resolution: int,
    names: dict[str, str],
    functions: EngineFunctions,
) -> ir.Table:
    import ibis
    import ibis.expr.datatypes as dt

    fail, rtrim_chars = functions.fail, functions.rtrim_chars

    by_field = {_field(h): h for h in header}

    def raw(name: str) -> ir.StringValue | None:
        return t[by_field[name]] if name in by_field else None

    def num(name: str) -> ir.FloatingValue:
        col = raw(name)
        if col is None:
            return ibis.null(dt.float64)
        # '19 %', '73789 MiB', '195.43 W' → the number; '[N/A]' stays as it is.
        text = rtrim_chars(col, " %MiBWHz\t")
        na = text.strip().isin(list(NOT_AVAILABLE)) | text.isnull()
        value = text.strip().try_cast(dt.float64)
        return ibis.ifelse(
            na,
            ibis.null(dt.float64),
            ibis.ifelse(value.isnull(), fail(f"mlcost-check:number:{name}", dt.float64), value),
        )

    stamp = t["timestamp"].strip().as_timestamp(TIME_FORMAT)
    bucket = (stamp.epoch_seconds() // resolution * resolution).as_timestamp("s")
    host = (
        ibis.literal(resource)
        if resource
        else t["filename"].re_extract(r"([^/\\]+?)(\.csv)?(\.gz)?$", 1)
    )
    name = raw("name")
    model = name.strip().substitute(names) if name is not None else ibis.null(dt.string)
    uuid = raw("uuid")
    util = num("utilization.gpu") / 100.0
    used = num("memory.used") * _MIB
    rows = t.select(
        time=bucket,
        resource_id=host,
        gpu_index=num("index").cast(dt.int32),
        gpu_uuid=uuid.strip() if uuid is not None else ibis.null(dt.string),
        gpu_model=model,
        util=util,
        used=used,
        total=num("memory.total") * _MIB,
        power=num("power.draw"),
    )
    keys = ["time", "resource_id", "gpu_index", "gpu_uuid", "gpu_model"]
    out = rows.group_by(keys).aggregate(
        utilization=rows.util.mean(),
        utilization_min=rows.util.min(),
        utilization_max=rows.util.max(),
        memory_used_bytes=rows.used.mean().round().cast(dt.int64),
        memory_used_max_bytes=rows.used.max().cast(dt.int64),
        memory_total_bytes=rows.total.max().cast(dt.int64),
        power_watts=rows.power.mean(),
        sample_count=rows.count().cast(dt.int32),
    )
    return out.mutate(
        resolution_s=ibis.literal(resolution, type=dt.int32),
        labels=ibis.null(dt.Map(dt.string, dt.string)),
        source=ibis.literal(NAME),
    )


def ingest_nvidia_smi(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path,
    *,
    resource: str | None = None,
    resolution: int = DEFAULT_RESOLUTION_S,
    progress: Progress | None = None,
) -> LoadResult:
    """Load nvidia-smi CSV logs into ``gpu_samples`` in one transaction.

    >>> ingest_nvidia_smi(wh, ["logs/"], resolution=60)  # doctest: +SKIP
    """
    if resolution < 1:
        raise ValueError("resolution must be at least 1 second")
    if isinstance(paths, str | Path):
        paths = [paths]
    files = expand_files(paths, SUFFIXES, "nvidia-smi logs")
    if resource and len(files) > 1:
        raise InvalidInput(
            f"--resource names one host, but {len(files)} logs were given",
            fix="Give one log with --resource, or name each log <resource-id>.csv in a folder.",
        )
    groups: dict[tuple[str, ...], list[Path]] = {}
    for f in files:
        header = read_header(f)
        _check_header(f, header)
        groups.setdefault(header, []).append(f)
    inputs = [(str(f), sha256_file(f)) for f in files]
    options = {"resource": resource, "resolution": resolution}

    def write(ingest_id: int) -> Written:
        import ibis.expr.datatypes as dt

        written = Written()
        for done, (header, group) in enumerate(groups.items()):
            source = warehouse.read_csv_files(group, header, filename=True)
            expr = _query(
                source,
                header,
                resource=resource,
                resolution=resolution,
                names=_names(group),
                functions=warehouse.functions,
            )
            expr = expr.mutate(ingest_id=ibis_literal(ingest_id, dt.int64))
            try:
                warehouse.insert("gpu_samples", expr)
            except warehouse.errors as exc:
                raise _explain(exc, group) from None
            if progress is not None:
                progress((done + 1) / len(groups), group[-1].name)
        written.add("gpu_samples", warehouse.count_rows("gpu_samples", ingest_id))
        return written

    return load_once(warehouse, NAME, inputs, write, options=options)


def ibis_literal(value: Any, dtype: Any) -> Any:
    import ibis

    return ibis.literal(value, type=dtype)


def _explain(exc: Exception, files: list[Path]) -> InvalidInput:
    for f in files:
        found = _first_bad(f)
        if found is not None:
            return found
    return InvalidInput(
        f"could not be loaded: {str(exc).splitlines()[0]}",
        file=files[0] if len(files) == 1 else None,
        fix="Check that each file is a complete nvidia-smi --format=csv log.",
    )


ingest = ingest_nvidia_smi
SOURCE = Source(NAME, DESCRIPTION, ("gpu_samples",), ingest, detect, stage=TELEMETRY)
