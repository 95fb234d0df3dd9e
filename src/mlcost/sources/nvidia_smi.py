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

from mlcost.errors import BadValue, InvalidInput, MissingColumn, MlcostError, WarehouseError
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
        cells = text.split(",")
        if len(cells) > len(header):
            return BadValue(
                f"line has {len(cells)} fields, its header {len(header)}",
                file=path,
                row=number,
                fix="Keep the log as nvidia-smi wrote it (one header per restart).",
            )
        row = dict(zip([_field(h) for h in header], cells, strict=False))
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


def _header_line(line: ir.StringValue) -> ir.BooleanValue:
    """Whether a line is a header: one of its fields, unit aside, is ``timestamp`` (the
    pattern only runs on the lines that contain the word)."""
    import ibis

    pattern = r"(^|,)\s*timestamp\s*(\[[^,]*)?(,|$)"
    return ibis.ifelse(line.contains("timestamp"), line.re_search(pattern), False)


def _blank(line: ir.StringValue) -> ir.BooleanValue:
    return line.isnull() | line.re_search(r"^\s*$")


def _strip(value: ir.StringValue) -> ir.StringValue:
    """``value`` without surrounding whitespace. nvidia-smi separates fields with ``, ``: the
    one leading space is cut cheaply; a full strip only runs where more is left."""
    import ibis

    cut = ibis.ifelse(value.startswith(" "), value.substr(1), value)
    odd = cut.startswith(" ") | cut.endswith(" ") | cut.contains("\t")
    return ibis.ifelse(odd, cut.strip(), cut)


# A number and its unit ('19 %', '73789 MiB', '195.43 W', '1410 MHz', '42'); the number is
# empty when the text is anything else ('[N/A]', 'ten %').
_NUMBER = r"^\s*([^\s%MiBWHz]*)[\s%MiBWHz]*$"
_NOT_AVAILABLE = r"^\s*(\[N/A\]|N/A|\[Not Supported\]|\[Unknown Error\]|\[GPU is lost\])?\s*$"


def _census(
    t: ir.Table, header: tuple[str, ...], functions: EngineFunctions
) -> dict[str, tuple[int, int, int, int]]:
    """Per file (as the engine spells its name): header lines, distinct header lines, lines
    with fewer fields than the header (cut: the load leaves them out) and whole rows whose
    utilization is not available. One pass over the lines."""
    import ibis
    import ibis.expr.datatypes as dt

    fields = [_field(h) for h in header]
    util_at = fields.index("utilization.gpu")
    kept = t.filter(~_blank(t.line))
    line = kept.line
    is_header = _header_line(line)
    cells = line.split(",")
    # Only lines with a '[' can hold [N/A]: the rest of the test runs on those alone.
    no_util = ibis.ifelse(
        line.contains("["),
        ~is_header & (cells.length() >= len(header)) & cells[util_at].re_search(_NOT_AVAILABLE),
        False,
    )
    out = kept.group_by("filename").aggregate(
        headers=kept.count(where=is_header),
        cut=kept.count(where=~is_header & (cells.length() < len(header))),
        # As written: a header spelled with other spacing counts as another (read line by line).
        kinds=ibis.ifelse(is_header, line, ibis.null(dt.string)).nunique(),
        no_util=kept.count(where=no_util),
    )
    return {
        r["filename"]: (int(r["headers"]), int(r["kinds"]), int(r["cut"]), int(r["no_util"]))
        for r in out.to_pyarrow().to_pylist()
    }


def _unit(header: str) -> str | None:
    """'memory.used [MiB]' → 'MiB'; None without a unit (``--format=csv,nounits``)."""
    if "[" not in header:
        return None
    return header.split("[", 1)[1].split("]", 1)[0].strip() or None


def _query(
    t: ir.Table,
    header: tuple[str, ...],
    *,
    hosts: ir.Table,
    resolution: int,
    names: dict[str, str],
    functions: EngineFunctions,
) -> ir.Table:
    """The buckets of a header group's lines, computed in the engine.

    ``t`` is the files' fields (``filename``, ``f0`` … as :meth:`Warehouse.read_fields` gives
    them); header lines, blank lines and lines with fewer fields than the header (cut by a
    stop) are left out, a line with more fails the load. ``hosts`` maps each ``filename`` to
    its ``resource_id``; samples are grouped per host, not per file, so a bucket that spans a
    log's rotation is one row.
    """
    import ibis
    import ibis.expr.datatypes as dt

    fail = functions.fail
    at = {_field(h): i for i, h in enumerate(header)}
    stamp_text = t[f"f{at['timestamp']}"]
    # A header line holds 'timestamp' where a row holds its time (the group's files have one
    # header each, so its repeats are the same line); the pattern runs on those lines alone.
    is_header = ibis.ifelse(
        stamp_text.contains("timestamp"),
        stamp_text.re_search(r"^\s*timestamp\s*(\[.*)?$"),
        False,
    )
    kept = t.filter(t[f"f{len(header) - 1}"].notnull() & ~is_header).inner_join(hosts, "filename")
    numeric = [c for c in ("index", *NUMERIC) if c in at]
    texts = [c for c in ("timestamp", "uuid", "name") if c in at]

    def cut(name: str) -> ir.StringValue:
        """The value with the unit its header names cut off by position (no pattern)."""
        raw = kept[f"f{at[name]}"]
        unit = _unit(header[at[name]])
        if unit is None:
            return raw
        bare = raw.substr(0, raw.length() - len(unit) - 1)
        return ibis.ifelse(raw.endswith(f" {unit}"), bare, raw)

    # One step per layer, so that each field is cut, cast and checked once (a CASE that
    # names a value twice would compute it twice).
    cells = kept.select(
        "resource_id",
        **{f"s_{c}": kept[f"f{at[c]}"] for c in (*texts, *numeric)},
        **{f"c_{c}": cut(c) for c in numeric},
    )
    parsed = cells.select(
        "resource_id",
        *(f"s_{c}" for c in numeric),
        **{f"t_{c}": _strip(cells[f"s_{c}"]) for c in texts},
        **{f"v_{c}": cells[f"c_{c}"].try_cast(dt.float64) for c in numeric},
    )

    def num(name: str) -> ir.FloatingValue:
        """The value; one spelled otherwise ('19%') is read by the pattern, [N/A] is NULL, and
        anything else fails the load."""
        if name not in at:
            return ibis.null(dt.float64)
        raw, value = parsed[f"s_{name}"], parsed[f"v_{name}"]
        slow = raw.re_extract(_NUMBER, 1).try_cast(dt.float64)
        return ibis.ifelse(
            value.notnull(),
            value,
            ibis.ifelse(
                raw.re_search(_NOT_AVAILABLE),
                ibis.null(dt.float64),
                ibis.coalesce(slow, fail(f"mlcost-check:number:{name}", dt.float64)),
            ),
        )

    stamp = parsed["t_timestamp"].as_timestamp(TIME_FORMAT)
    name = parsed["t_name"] if "name" in at else None
    rows = parsed.select(
        bucket=stamp.epoch_seconds() // resolution,
        resource_id=parsed.resource_id,
        gpu_index=num("index").cast(dt.int32),
        gpu_uuid=parsed["t_uuid"] if "uuid" in at else ibis.null(dt.string),
        gpu_model=name.substitute(names) if name is not None else ibis.null(dt.string),
        util=num("utilization.gpu") / 100.0,
        used=num("memory.used") * _MIB,
        total=num("memory.total") * _MIB,
        power=num("power.draw"),
    )
    keys = ["bucket", "resource_id", "gpu_index", "gpu_uuid", "gpu_model"]
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
    return out.select(
        time=(out.bucket * resolution).as_timestamp("s"),
        **{c: out[c] for c in out.columns if c != "bucket"},
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


def scan(path: Path, into: Path | None = None) -> _Scan:
    """Count what a log holds; with ``into``, write its whole lines there, one file per header.

    The files written are ``into/<k>/<host>.csv`` for the k-th header.
    """
    out = _Scan()
    sink: TextIO | None = None
    try:
        for kind, header, text in lines(path):
            if kind == HEADER:
                if out.headers:
                    out.skipped[REPEATED_HEADER] += 1
                out.headers.append(header)
                if into is not None:
                    if sink is not None:
                        sink.close()
                    target = into / str(len(out.headers) - 1) / f"{_host_of(path)}.csv"
                    target.parent.mkdir(parents=True)
                    sink = target.open("w", encoding="utf-8")
                    sink.write(text + "\n")
            elif kind == PARTIAL:
                out.skipped[PARTIAL_LINE] += 1
            elif sink is not None:
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


@dataclass
class _Plan:
    """What the engine reads: files grouped by header, and what was found before reading."""

    groups: dict[tuple[str, ...], list[Path]] = field(default_factory=dict)
    origins: dict[Path, Path] = field(default_factory=dict)  # file read → the log it comes from
    spelled: dict[Path, str] = field(default_factory=dict)  # file read → the engine's filename
    skipped: Counter[str] = field(default_factory=Counter)
    no_util: int = 0


def _tail(path: Path, size: int = 1 << 16) -> bytes:
    """The last bytes of a plain or gzipped file (a gzipped one is decompressed as a stream)."""
    if path.name.lower().endswith(".gz"):
        import gzip

        last = b""
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                last = (last + chunk)[-size:]
        return last
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - size))
        return fh.read()


def _cut_tail(path: Path, header: tuple[str, ...]) -> bool:
    """Whether a log ends in an unterminated line with all its fields whose last value was cut
    (logging stopped mid-value): only a line-by-line read can tell it from a bad value."""
    tail = _tail(path)
    if not tail or tail.endswith(b"\n"):
        return False
    text = tail.rsplit(b"\n", 1)[-1].decode("utf-8", "replace").rstrip("\r")
    cells = text.split(",")
    return bool(text.strip()) and len(cells) >= len(header) and _cut(cells)


def _spellings(names: Iterable[str], paths: Sequence[Path]) -> dict[Path, str]:
    """Each path → the name the engine gives its rows (DuckDB: the path; Spark: a file: URI)."""
    import os
    from urllib.parse import unquote, urlparse

    def local(name: str) -> str:
        text = unquote(urlparse(name).path) if name.startswith("file:") else name
        return os.path.realpath(text)

    by_local = {local(n): n for n in names}
    return {p: by_local[os.path.realpath(p)] for p in paths if os.path.realpath(p) in by_local}


def _plan(warehouse: Warehouse, files: Sequence[Path], tmp: Path) -> _Plan:
    """Group the logs by header and count what they hold, in one pass of the engine each.

    A log is read as it is when its header lines are all the same (a restart that logged the
    same fields), however many; repeated headers and lines with fewer fields than the header
    are left out by the query. A log whose header changed at a restart, or whose unterminated
    last line has a cut value, is written again into ``tmp`` first, one file per header,
    holding only its whole lines (streamed: no log is held in memory).
    """
    plan = _Plan()
    pending: dict[tuple[str, ...], list[Path]] = {}

    def rewrite(f: Path) -> None:
        into = tmp / str(len(list(tmp.iterdir())))
        found = scan(f, into=into)
        for header in found.headers:
            _check_header(f, header)
        plan.skipped.update(found.skipped)
        for k, header in enumerate(found.headers):
            target = into / str(k) / f"{_host_of(f)}.csv"
            plan.origins[target] = f
            pending.setdefault(header, []).append(target)

    for f in files:
        first = next(lines(f), None)
        if first is None:  # an empty log
            continue
        header = first[1]
        _check_header(f, header)
        if _cut_tail(f, header):
            rewrite(f)
            continue
        plan.origins[f] = f
        pending.setdefault(header, []).append(f)
    while pending:
        batch, pending = pending, {}
        for header, group in batch.items():
            try:
                counts = _census(warehouse.read_lines(group), header, warehouse.functions)
            except warehouse.errors as exc:
                raise _explain(exc, [plan.origins[f] for f in group]) from None
            spelled = _spellings(counts, group)
            for f in group:
                if f not in spelled:  # blank lines only
                    continue
                headers, kinds, cut, no_util = counts[spelled[f]]
                if kinds > 1:  # logging restarted with other fields: split by header
                    del plan.origins[f]
                    rewrite(f)
                    continue
                plan.skipped[REPEATED_HEADER] += headers - 1
                plan.skipped[PARTIAL_LINE] += cut
                plan.no_util += no_util
                plan.spelled[f] = spelled[f]
                plan.groups.setdefault(header, []).append(f)
    plan.skipped = +plan.skipped
    return plan


def _hosts(plan: _Plan, group: list[Path], resource: str | None) -> ir.Table:
    """(filename as the engine spells it, resource_id) for a group's files."""
    import ibis

    return ibis.memtable(
        {
            "filename": [plan.spelled[f] for f in group],
            "resource_id": [resource or _host_of(plan.origins[f]) for f in group],
        },
        schema={"filename": "string", "resource_id": "string"},
    )


# The log text one query aggregates at most (a gzipped log counts as 8× its size): about 4M
# one-GPU samples. One query over a 1,000-GPU month (5 GiB, 44.6M samples) ran out of the
# default 1 GB memory limit in its hash aggregate; batches of whole hosts keep each under it.
BATCH_BYTES = 512 * 2**20


def _batches(plan: _Plan, group: list[Path], resource: str | None) -> list[list[Path]]:
    """A group's files in batches of whole hosts of at most BATCH_BYTES of log text each (a
    larger host alone): a host's rotated logs stay together, so its buckets are whole."""
    hosts: dict[str, list[Path]] = {}
    for f in group:
        hosts.setdefault(resource or _host_of(plan.origins[f]), []).append(f)
    batches: list[list[Path]] = []
    size = 0
    for files in hosts.values():
        n = sum(f.stat().st_size * (8 if f.name.lower().endswith(".gz") else 1) for f in files)
        if not batches or size + n > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1] += files
        size += n
    return batches


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
        plan = _plan(warehouse, csvs, Path(tmp))
        skipped = plan.skipped
        samples = [s for f in dmon for s in read_dmon(f, resource, skipped)]

        def write(ingest_id: int) -> Written:
            import ibis.expr.datatypes as dt

            written = Written()
            if plan.no_util:
                written.warnings.append(
                    f"{plan.no_util:,} sample(s) have no utilization.gpu ([N/A] or [Not "
                    "Supported]: a MIG-enabled GPU reports none; load DCGM's per-instance "
                    "metrics for it); they are loaded with memory and power only"
                )
            batches = [
                (header, batch)
                for header, group in plan.groups.items()
                for batch in _batches(plan, group, resource)
            ]
            for done, (header, batch) in enumerate(batches):
                expr = _query(
                    warehouse.read_fields(batch, len(header)),
                    header,
                    hosts=_hosts(plan, batch, resource),
                    resolution=resolution,
                    names=_names(batch),
                    functions=warehouse.functions,
                )
                expr = expr.mutate(ingest_id=ibis_literal(ingest_id, dt.int64))
                try:
                    warehouse.insert("gpu_samples", expr)
                except warehouse.errors as exc:
                    raise _explain(exc, [plan.origins[f] for f in batch]) from None
                if progress is not None:
                    progress((done + 1) / len(batches), batch[-1].name)
            for reason, n in skipped.items():
                written.skip(reason, n)
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


def _explain(exc: Exception, files: list[Path]) -> MlcostError:
    if "out of memory" in str(exc).lower():  # not the logs' fault: no re-read can find it
        return WarehouseError(
            f"ran out of the warehouse's memory loading {len(files)} log(s): "
            f"{str(exc).splitlines()[0]}. Raise memory_limit (mlcost.toml) or load fewer "
            "logs at once."
        )
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
