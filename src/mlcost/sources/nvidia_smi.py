"""nvidia-smi logs → ``gpu_samples``: ``--query-gpu=... --format=csv`` and ``dmon -o DT``.

Reads the CSV that ``nvidia-smi --query-gpu=timestamp,index,uuid,name,utilization.gpu,
memory.used,memory.total,power.draw --format=csv -l N`` writes, with units in the header and
values (``19 %``, ``73789 MiB``) or without (``--format=csv,nounits``), plain, gzipped or
rotated (``host.csv.1``, ``host.csv.2.gz``). ``[N/A]`` and ``[Not Supported]`` are empty
values. Needed columns: ``timestamp``, ``index`` and ``utilization.gpu``; ``uuid``, ``name``,
``memory.*`` and ``power.draw`` are kept when present. Logs as they are written: a header
repeated where logging restarted starts a new segment, and lines cut by a stop mid-write are
skipped; both are counted in the result's ``skipped``. ``nvidia-smi dmon -o DT`` output is
read too (``sm`` %, ``fb`` MB, ``pwr`` W).

The host of a log is ``resource`` (a billed ``ResourceId`` or the instance id inside it) or,
for each file, its name without rotation number, ``.gz`` and ``.csv``. DuckDB streams clean
CSV logs; samples are summarized into buckets of ``resolution`` seconds (mean, min and max
utilization).
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mlcost.errors import BadValue, InvalidInput, MissingColumn
from mlcost.sources._common import (
    TELEMETRY,
    LoadResult,
    Progress,
    Source,
    Written,
    gather,
    gpu_model_name,
    load_once,
    name_matches,
    open_text,
    sniff_text,
    unrotated,
)
from mlcost.sources._samples import downsample
from mlcost.sources._tables import arrow_rows

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse
    from mlcost.warehouse._functions import EngineFunctions

NAME = "nvidia-smi"
DESCRIPTION = "nvidia-smi --query-gpu --format=csv logs and dmon -o DT output → gpu_samples"
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
    """An nvidia-smi ``--query-gpu --format=csv`` log or ``dmon -o DT`` output (or rotated)."""
    if is_dmon(path):
        return True
    if not name_matches(path, SUFFIXES, rotated=True):
        return False
    try:
        fields = {_field(h) for h in read_header(path)}
    except InvalidInput:
        return False
    return {"timestamp", "utilization.gpu"} <= fields


# -- nvidia-smi dmon ---------------------------------------------------------------------------
# ``nvidia-smi dmon -o DT [-s pucm]`` prints a two-line header (names, then units), again every
# so many lines, then one whitespace-separated line per GPU per interval; ``-`` is a value the
# GPU does not report. Without ``-o DT`` the lines carry no time and cannot be placed.
DMON_SUFFIXES = (".dmon", ".dmon.gz", ".log", ".log.gz", ".txt", ".txt.gz")
DMON_NO_TIME = "dmon line(s) of a log written without -o DT (no date and time)"


def is_dmon(path: Path) -> bool:
    if not name_matches(path, DMON_SUFFIXES, rotated=True):
        return False
    head = sniff_text(path, None, 4096)
    first = head.lstrip().split("\n", 1)[0]
    return (
        first.startswith("#")
        and re.search(r"\bgpu\b", first) is not None
        and (re.search(r"\b(sm|pwr)\b", first) is not None)
    )


def read_dmon(path: Path, resource: str | None, skipped: Counter[str]) -> Iterator[dict[str, Any]]:
    """Raw samples of a ``dmon -o DT`` log: utilization from ``sm`` %, memory from ``fb`` MiB."""
    host = resource or _host_of(path)
    names: list[str] = []
    with open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            text = line.strip()
            if not text:
                continue
            if text.startswith("#"):
                words = text.lstrip("#").split()
                if "gpu" in words:
                    names = [w.lower() for w in words]
                continue
            cells = text.split()
            if not names or len(cells) != len(names) or not line.endswith("\n"):
                skipped[PARTIAL_LINE if names else DMON_NO_TIME] += 1
                continue
            row = dict(zip(names, cells, strict=True))
            if "date" not in row or "time" not in row:
                skipped[DMON_NO_TIME] += 1
                continue
            try:
                time = datetime.strptime(row["date"] + row["time"], "%Y%m%d%H:%M:%S")
                values = {k: None if row.get(k, "-") == "-" else float(row[k]) for k in _DMON}
                index = int(row["gpu"])
            except ValueError as exc:
                raise BadValue(
                    f"line {number} is not a dmon sample ({exc})",
                    file=path,
                    row=number,
                    fix="Keep the log as nvidia-smi dmon -o DT wrote it.",
                ) from None
            sm, fb, pwr = values["sm"], values["fb"], values["pwr"]
            yield {
                "time": time,
                "resource_id": host,
                "gpu_index": index,
                "utilization": None if sm is None else sm / 100.0,
                "memory_used_bytes": None if fb is None else fb * _MIB,
                "power_watts": pwr,
            }


_DMON = ("sm", "fb", "pwr")


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
    """The host a log belongs to: its name without rotation number, ``.gz`` and kind.

    >>> [_host_of(Path(n)) for n in ("gpu-7.csv", "gpu-7.csv.1", "gpu-7.csv.2.gz")]
    ['gpu-7', 'gpu-7', 'gpu-7']
    """
    name = unrotated(path.name)
    for suffix in (".gz", ".csv", ".dmon", ".log", ".txt"):
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
    """Re-read a log in Python to name the first bad row and column (only after a failure).

    Rows count the whole data lines that were read, as loaded: repeated headers and
    skipped partial lines are not rows.
    """
    number = 0
    for kind, header, text in lines(path):
        if kind != ROW:
            continue
        number += 1
        row = dict(zip([_field(h) for h in header], text.split(","), strict=False))
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
    hosts: dict[str, str],
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
    # By file name, not path: engines spell the path differently (Spark gives a file: URI).
    # A name the map lacks keeps the name without rotation number, .gz and .csv.
    basename = t["filename"].re_extract(r"([^/\\]+)$", 1)
    fallback = basename.re_extract(r"^(.+?)(\.csv)?(\.\d+)?(\.gz)?$", 1)
    host = basename.substitute(hosts, else_=fallback)
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


REPEATED_HEADER = "repeated header line(s) (a log appended to after a restart)"
PARTIAL_LINE = "partial line(s) (logging stopped mid-write)"
HEADER, ROW, PARTIAL = "header", "row", "partial"


def lines(path: Path) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """A log's lines as (kind, the header they fall under, text), read as a stream.

    A log appended to across restarts (``nvidia-smi ... -l 60 >> host.csv``) has the header
    again wherever logging restarted, possibly with other fields: each header line is a
    ``header`` and the rows after it are read with its columns. A line with fewer fields
    than its header, or an unterminated last line whose last value is cut, is ``partial``:
    its writing stopped (a log still being written, or the line before a restart).
    """
    header: tuple[str, ...] = ()
    with open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            text = line.rstrip("\r\n")
            if "timestamp" in text and "timestamp" in {_field(c) for c in text.split(",")}:
                header = tuple(h.strip() for h in text.split(","))
                yield HEADER, header, text
                continue
            if not header:
                raise MissingColumn(
                    "is not an nvidia-smi --query-gpu log: its first line is not a header "
                    "with a timestamp column",
                    file=path,
                    row=1,
                    column="timestamp",
                )
            # Counting commas, not splitting: this runs on every line of every log.
            whole = text.count(",") >= len(header) - 1 and (
                line.endswith("\n") or not _cut(text.split(","))
            )
            yield (ROW if whole else PARTIAL), header, text


@dataclass
class _Scan:
    """What one pass over a log found: its headers and what was skipped."""

    headers: list[tuple[str, ...]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    no_utilization: int = 0  # samples whose utilization.gpu is [N/A] or [Not Supported]

    @property
    def clean(self) -> bool:
        """One header and every line whole: DuckDB reads the file as it is."""
        return not self.skipped


def scan(path: Path, into: Path | None = None) -> _Scan:
    """Count what a log holds; with ``into``, write its whole lines there, one file per header.

    The files written are ``into/<k>/<host>.csv`` for the k-th header.
    """
    out = _Scan()
    util_at = -1
    sink: TextIO | None = None
    try:
        for kind, header, text in lines(path):
            if kind == HEADER:
                if out.headers:
                    out.skipped[REPEATED_HEADER] += 1
                out.headers.append(header)
                fields = [_field(h) for h in header]
                util_at = fields.index("utilization.gpu") if "utilization.gpu" in fields else -1
                if into is not None:
                    if sink is not None:
                        sink.close()
                    target = into / str(len(out.headers) - 1) / f"{_host_of(path)}.csv"
                    target.parent.mkdir(parents=True)
                    sink = target.open("w", encoding="utf-8")
                    sink.write(text + "\n")
            elif kind == PARTIAL:
                out.skipped[PARTIAL_LINE] += 1
            else:
                if "[" in text and util_at >= 0:
                    cells = text.split(",")
                    if util_at < len(cells) and _value(cells[util_at]) is None:
                        out.no_utilization += 1
                if sink is not None:
                    sink.write(text + "\n")
    finally:
        if sink is not None:
            sink.close()
    return out


def _cut(cells: list[str]) -> bool:
    """Whether the last field of an unterminated last line was cut (not a whole value)."""
    last = cells[-1].strip()
    if last in NOT_AVAILABLE:
        return False
    try:
        float(_value(last) or "")
    except ValueError:
        return True
    return False


def _segments(
    files: Sequence[Path], tmp: Path
) -> tuple[dict[tuple[str, ...], list[Path]], dict[Path, Path], Counter[str], int]:
    """Files DuckDB reads, grouped by header; for each, the log it comes from.

    A clean log is read as it is. A log with repeated headers or partial lines is written
    again into ``tmp``, one file per header, holding only its whole lines (a second pass,
    streamed: no log is held in memory).
    """
    groups: dict[tuple[str, ...], list[Path]] = {}
    origins: dict[Path, Path] = {}
    skipped: Counter[str] = Counter()
    no_util = 0
    for n, f in enumerate(files):
        found = scan(f)
        skipped.update(found.skipped)
        no_util += found.no_utilization
        for header in found.headers:
            _check_header(f, header)
        targets = [f]
        if not found.clean:
            scan(f, into=tmp / str(n))
            host = _host_of(f)
            targets = [tmp / str(n) / str(k) / f"{host}.csv" for k in range(len(found.headers))]
        for header, target in zip(found.headers, targets, strict=True):
            origins[target] = f
            groups.setdefault(header, []).append(target)
    return groups, origins, skipped, no_util


def ingest_nvidia_smi(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path,
    *,
    resource: str | None = None,
    resolution: int = DEFAULT_RESOLUTION_S,
    progress: Progress | None = None,
) -> LoadResult:
    """Load nvidia-smi logs (``--query-gpu --format=csv`` or ``dmon``) in one transaction.

    Rotated logs (``host.csv.1``, ``host.csv.2.gz``) are the host of ``host.csv``. Repeated
    headers and partial lines are skipped and counted in the result's ``skipped``; samples
    whose utilization is ``[N/A]`` (a MIG-enabled GPU) are loaded without it and counted in a
    warning, so no GPU is dropped.

    >>> ingest_nvidia_smi(wh, ["logs/"], resolution=60)  # doctest: +SKIP
    """
    if resolution < 1:
        raise ValueError("resolution must be at least 1 second")
    found = gather(paths, SUFFIXES + DMON_SUFFIXES, "nvidia-smi logs", rotated=True)
    if resource and len({unrotated(f.name) for f in found.files}) > 1:
        raise InvalidInput(
            f"--resource names one host, but logs of {len(found.files)} hosts were given",
            fix="Give one host's logs with --resource, or name each log <resource-id>.csv "
            "in a folder.",
        )
    dmon = [f for f in found.files if is_dmon(f)]
    csvs = [f for f in found.files if f not in dmon]
    options = {"resource": resource, "resolution": resolution}
    with tempfile.TemporaryDirectory(prefix="mlcost-nvidia-smi-") as tmp:
        groups, origins, skipped, no_util = _segments(csvs, Path(tmp))
        samples = [s for f in dmon for s in read_dmon(f, resource, skipped)]

        def write(ingest_id: int) -> Written:
            import ibis.expr.datatypes as dt

            written = Written()
            for reason, n in skipped.items():
                written.skip(reason, n)
            if no_util:
                written.warnings.append(
                    f"{no_util:,} sample(s) have no utilization.gpu ([N/A] or [Not Supported]: "
                    "a MIG-enabled GPU reports none; load DCGM's per-instance metrics for it); "
                    "they are loaded with memory and power only"
                )
            for done, (header, group) in enumerate(groups.items()):
                source = warehouse.read_csv_files(group, header, filename=True)
                expr = _query(
                    source,
                    header,
                    hosts={f.name: resource or _host_of(origins[f]) for f in group},
                    resolution=resolution,
                    names=_names(group),
                    functions=warehouse.functions,
                )
                expr = expr.mutate(ingest_id=ibis_literal(ingest_id, dt.int64))
                try:
                    warehouse.insert("gpu_samples", expr)
                except warehouse.errors as exc:
                    raise _explain(exc, [origins[f] for f in group]) from None
                if progress is not None:
                    progress((done + 1) / max(len(groups), 1), group[-1].name)
            if samples:
                rows = arrow_rows(
                    "gpu_samples", downsample(samples, resolution), source=NAME, ingest_id=ingest_id
                )
                warehouse.insert_arrow("gpu_samples", rows)
            written.add("gpu_samples", warehouse.count_rows("gpu_samples", ingest_id))
            return written

        return load_once(warehouse, NAME, found, write, options=options)


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
