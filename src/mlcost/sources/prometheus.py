"""DCGM-exporter GPU metrics from Prometheus → ``gpu_samples``.

Two ways in, one mapping:

- **A running Prometheus** (``url``), over the HTTP API's ``/api/v1/query_range`` for a time
  window, in chunks of at most ``CHUNK_POINTS`` steps (Prometheus refuses more than 11,000
  points per series). Each bucket of ``resolution`` seconds is asked for as
  ``avg_over_time`` / ``min_over_time`` / ``max_over_time`` / ``count_over_time`` over the
  bucket, so samples faster than the resolution keep their mean, min and max, and slower ones
  are not repeated by Prometheus' look-back.
- **OpenMetrics / text exposition files** (``*.om.txt``, ``*.prom``) holding the same metrics
  with timestamps, such as ``promtool tsdb create-blocks-from openmetrics`` backfills. The
  engine reads, checks, merges and buckets their lines (``_engine_buckets``); Python parses
  only the distinct label sets, and re-reads a file line by line only to name a bad line.

Exporter labels map as: ``Hostname`` (else ``instance`` without its port) → ``resource_id``;
``gpu`` → GPU index; ``UUID``; ``modelName`` → canonical GPU model; ``pod``, ``namespace``,
``container`` → labels. Metrics: ``DCGM_FI_DEV_GPU_UTIL`` (%), ``DCGM_FI_DEV_FB_USED`` and
``DCGM_FI_DEV_FB_FREE`` (MiB; total = used + free), ``DCGM_FI_DEV_POWER_USAGE`` (W).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mlcost.errors import BadValue, InvalidInput
from mlcost.sources._common import (
    TELEMETRY,
    LoadResult,
    Source,
    Written,
    gather,
    gpu_model_name,
    hashed,
    load_once,
    open_text,
    sha256_bytes,
    sniff_text,
)
from mlcost.sources._tables import arrow_rows

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

NAME = "prometheus"
DESCRIPTION = "DCGM-exporter metrics from Prometheus query_range (--url) or OpenMetrics files"
SUFFIXES = (".om.txt", ".prom", ".openmetrics")
DEFAULT_RESOLUTION_S = 60
CHUNK_POINTS = 10_000  # below Prometheus' 11,000 points-per-series limit
UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
POWER = "DCGM_FI_DEV_POWER_USAGE"
# A MIG instance has no DCGM_FI_DEV_GPU_UTIL (nvidia-smi prints [N/A] for it too): its busy
# share is the profiling metric DCGM_FI_PROF_GR_ENGINE_ACTIVE (a 0-1 ratio), per instance.
GR_ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
METRICS = (UTIL, FB_USED, FB_FREE, POWER, GR_ACTIVE)
MIG_LABELS = ("GPU_I_ID", "GPU_I_PROFILE")
LABELS = ("pod", "namespace", "container", *MIG_LABELS)
_MIB = 1 << 20
_EARLY = 0.001  # seconds before a bucket's end at which it is evaluated
_LINE = re.compile(
    r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+(?P<ts>\S+))?$"
)
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def detect(path: Path) -> bool:
    head = sniff_text(path, SUFFIXES)
    return any(m in head for m in METRICS)


def _series_key(labels: dict[str, str]) -> tuple[str, int | None, str | None, str | None]:
    """Host, GPU index, UUID and MIG instance (``GPU_I_ID``; None for a whole GPU)."""
    host = labels.get("Hostname") or labels.get("instance", "").rsplit(":", 1)[0] or "unknown"
    gpu = labels.get("gpu")
    index = int(gpu) if gpu is not None and gpu.isdigit() else None
    return host, index, labels.get("UUID"), labels.get("GPU_I_ID")


def _gpu_fields(labels: dict[str, str]) -> dict[str, Any]:
    host, index, uuid, _ = _series_key(labels)
    return {
        "resource_id": host,
        "gpu_index": index,
        "gpu_uuid": uuid,
        "gpu_model": gpu_model_name(labels.get("modelName")),
        "labels": {k: labels[k] for k in LABELS if labels.get(k)},
    }


# -- OpenMetrics files ---------------------------------------------------------------------------
def parse_sample_line(
    line: str, *, file: Path, row: int
) -> tuple[str, dict[str, str], float, float | None] | None:
    """(metric, labels, value, timestamp or None) of one exposition line; None for a comment
    or blank line. A line that is not a sample raises naming the file and line."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    m = _LINE.match(line)
    if not m:
        raise BadValue(
            "is not an OpenMetrics sample line (name{labels} value timestamp)", file=file, row=row
        )
    name = m.group("name")
    try:
        value = float(m.group("value"))
        stamp = float(m.group("ts")) if m.group("ts") else None
    except ValueError:
        raise BadValue(
            f"{m.group('value')!r} / {m.group('ts')!r} is not a number",
            file=file,
            row=row,
            column=name,
        ) from None
    return name, dict(_LABEL.findall(m.group("labels") or "")), value, stamp


def timestamped_samples(
    path: Path, metrics: Iterable[str], *, fix: str | None = None
) -> Iterator[tuple[str, dict[str, str], float, float]]:
    """(metric, labels, value, timestamp) of each sample of ``metrics`` in an exposition file;
    a sample without a timestamp is refused (only history can be loaded)."""
    wanted = frozenset(metrics)
    with open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            parsed = parse_sample_line(line, file=path, row=number)
            if parsed is None or parsed[0] not in wanted:
                continue
            name, labels, value, stamp = parsed
            if stamp is None:
                raise BadValue(
                    "has no timestamp; only timestamped history can be loaded",
                    file=path,
                    row=number,
                    column=name,
                    fix=fix,
                )
            yield name, labels, value, stamp


def _file_samples(path: Path) -> Iterator[dict[str, Any]]:
    """Raw samples of a DCGM OpenMetrics file, one dict per (GPU, time), in file order."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for name, labels, value, stamp in timestamped_samples(path, METRICS):
        key = (*_series_key(labels), stamp)
        sample = merged.get(key)
        if sample is None:
            sample = merged[key] = {
                **_gpu_fields(labels),
                "time": datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None),
            }
        sample[name] = value
    for sample in merged.values():
        yield _to_units(sample)


def _to_units(s: dict[str, Any]) -> dict[str, Any]:
    used, free = s.get(FB_USED), s.get(FB_FREE)
    return {
        **s,
        "utilization": s[UTIL] / 100 if s.get(UTIL) is not None else s.get(GR_ACTIVE),
        "memory_used_bytes": used * _MIB if used is not None else None,
        "memory_total_bytes": (used + free) * _MIB
        if used is not None and free is not None
        else None,
        "power_watts": s.get(POWER),
    }


# -- OpenMetrics files in the engine ---------------------------------------------------------------
# The engine reads the lines, checks each against the same pattern, and merges and buckets the
# samples; Python only parses the distinct label sets (a few per GPU) with the parser above.
_NAME = r"^[A-Za-z_:][A-Za-z0-9_:]*$"
_TAIL = r"^\s+\S+(\s+\S+)?$"


def _engine_lines(warehouse: Warehouse, files: list[Path]) -> ir.Table:
    """The wanted samples of exposition files: ``filename``, ``name``, ``labels`` (the text
    between the braces), ``value`` and ``stamp`` (seconds). A line that is not a sample, a
    value or timestamp that is not a number, or a wanted sample without a timestamp fails the
    query; :func:`_first_bad` then names it."""
    import ibis
    import ibis.expr.datatypes as dt

    fail = warehouse.functions.fail
    t = warehouse.read_lines(files)
    raw = t.line
    odd = raw.startswith(" ") | raw.endswith(" ") | raw.contains("\t") | raw.endswith("\r")
    text = t.select("filename", s=ibis.ifelse(odd, raw.strip(), raw))
    text = text.filter(text.s.notnull() & (text.s != "") & ~text.s.startswith("#"))
    s = text.s
    # The parts are cut out by position and checked by short patterns: a name, then either
    # '{labels}' up to the last brace or nothing, then whitespace, a value and perhaps a
    # timestamp. A line matches these exactly when it matches _LINE (whose greedy labels end
    # at the last brace whenever the line can be a sample), at a fraction of the cost.
    # (No split on a brace: Spark splits on a regular expression, where '{' is not literal.)
    brace = s.find("{")
    head = ibis.ifelse(brace < 0, s, s.substr(0, brace))  # all of a line without labels
    name = head.replace("\t", " ").split(" ")[0]
    last = s.re_extract(r"\}([^}]*)$", 1)  # the text after the last brace
    cut = text.select(
        "filename",
        "s",
        name=name,
        braced=(head.length() == name.length()) & s.contains("{") & s.contains("}"),
        last=last,
    )
    at = cut.name.length()
    tail = ibis.ifelse(cut.braced, cut.last, cut.s.substr(at))
    parts = cut.select(
        "filename",
        "name",
        labels=ibis.ifelse(
            cut.braced, cut.s.substr(at + 1, cut.s.length() - cut.last.length() - at - 2), ""
        ),
        ok=cut.name.re_search(_NAME) & tail.re_search(_TAIL),
        tail=tail.replace("\t", " ").strip(),
    )
    space = parts.tail.find(" ")
    numbers = parts.select(
        "filename",
        "name",
        "ok",
        "labels",
        stamp=ibis.ifelse(space < 0, "", parts.tail.substr(space + 1).lstrip()),
        value=ibis.ifelse(space < 0, parts.tail, parts.tail.substr(0, space)).try_cast(dt.float64),
    )
    numbers = numbers.mutate(seconds=numbers.stamp.try_cast(dt.float64))
    bad = ~numbers.ok | numbers.value.isnull() | ((numbers.stamp != "") & numbers.seconds.isnull())
    checked = numbers.select(
        "filename",
        "labels",
        "value",
        "seconds",
        name=ibis.ifelse(bad, fail("mlcost-check:openmetrics", dt.string), numbers.name),
    )
    wanted = checked.filter(checked.name.isin(METRICS))
    return wanted.select(
        "filename",
        "name",
        "labels",
        "value",
        stamp=ibis.ifelse(
            wanted.seconds.isnull(), fail("mlcost-check:no-timestamp", dt.float64), wanted.seconds
        ),
    )


def _series(label_texts: Iterable[str]) -> ir.Table:
    """Each distinct label text → the GPU it names, parsed in Python as a line would be."""
    import ibis

    rows: dict[str, list[Any]] = {
        k: []
        for k in ("labels", "resource_id", "gpu_index", "gpu_uuid", "mig", "gpu_model", "tags")
    }
    for text in label_texts:
        labels = dict(_LABEL.findall(text))
        fields = _gpu_fields(labels)
        rows["labels"].append(text)
        rows["resource_id"].append(fields["resource_id"])
        index = fields["gpu_index"]
        rows["gpu_index"].append(None if index is None else str(index))
        rows["gpu_uuid"].append(fields["gpu_uuid"])
        rows["mig"].append(labels.get("GPU_I_ID"))
        rows["gpu_model"].append(fields["gpu_model"])
        rows["tags"].append(json.dumps(fields["labels"]))
    return ibis.memtable(
        rows,
        schema={
            "labels": "string",
            "resource_id": "string",
            # As text: a Python table's integer column with a None in it does not reach Spark.
            "gpu_index": "string",
            "gpu_uuid": "string",
            "mig": "string",
            "gpu_model": "string",
            "tags": "string",
        },
    )


def _engine_buckets(
    warehouse: Warehouse, files: list[Path], resolution: int, ingest_id: int
) -> ir.Table:
    """The buckets of exposition files, as :func:`_file_samples` and ``downsample`` give them:
    per file, the metrics of one GPU (host, index, UUID, MIG instance) at one instant are one
    sample, and samples are summarized into buckets of ``resolution`` seconds."""
    import ibis
    import ibis.expr.datatypes as dt

    lines = _engine_lines(warehouse, files)
    distinct = lines.select("labels").distinct().to_pyarrow().column("labels").to_pylist()
    joined = lines.inner_join(_series(distinct), "labels")
    joined = joined.mutate(gpu_index=joined.gpu_index.cast(dt.int32))
    keys = ["filename", "resource_id", "gpu_index", "gpu_uuid", "mig", "stamp"]

    def metric(name: str) -> ir.FloatingValue:
        return joined.value.max(where=joined.name == name)

    samples = joined.group_by(keys).aggregate(
        gpu_model=joined.gpu_model.arbitrary(),
        tags=joined.tags.arbitrary(),
        util=metric(UTIL),
        active=metric(GR_ACTIVE),
        used=metric(FB_USED),
        free=metric(FB_FREE),
        power=metric(POWER),
    )
    s = samples.mutate(
        utilization=ibis.ifelse(samples.util.notnull(), samples.util / 100, samples.active),
        used_bytes=samples.used * _MIB,
        total_bytes=(samples.used + samples.free) * _MIB,
        bucket=samples.stamp.floor() // resolution,
        # downsample's key: a GPU without an index is told apart by its UUID.
        uuid_key=ibis.ifelse(samples.gpu_index.isnull(), samples.gpu_uuid, ibis.null(dt.string)),
    )
    out = s.group_by(
        ["filename", "resource_id", "gpu_index", "uuid_key", "mig", "bucket"]
    ).aggregate(
        gpu_uuid=s.gpu_uuid.arbitrary(),
        gpu_model=s.gpu_model.arbitrary(),
        tags=s.tags.arbitrary(),
        utilization=s.utilization.mean(),
        utilization_min=s.utilization.min(),
        utilization_max=s.utilization.max(),
        memory_used_bytes=s.used_bytes.mean().round().cast(dt.int64),
        memory_used_max_bytes=s.used_bytes.max().round().cast(dt.int64),
        memory_total_bytes=s.total_bytes.max().round().cast(dt.int64),
        power_watts=s.power.mean(),
        sample_count=s.count().cast(dt.int32),
    )
    return out.select(
        time=(out.bucket * resolution).cast(dt.int64).as_timestamp("s"),
        resolution_s=ibis.literal(resolution, type=dt.int32),
        resource_id=out.resource_id,
        gpu_index=out.gpu_index,
        gpu_uuid=out.gpu_uuid,
        gpu_model=out.gpu_model,
        utilization=out.utilization,
        utilization_min=out.utilization_min,
        utilization_max=out.utilization_max,
        memory_used_bytes=out.memory_used_bytes,
        memory_used_max_bytes=out.memory_used_max_bytes,
        memory_total_bytes=out.memory_total_bytes,
        power_watts=out.power_watts,
        sample_count=out.sample_count,
        labels=warehouse.functions.json_object_to_map(out.tags),
        source=ibis.literal(NAME),
        ingest_id=ibis.literal(ingest_id, type=dt.int64),
    )


def _first_bad(files: list[Path], exc: Exception) -> InvalidInput:
    """Re-read the files with the Python parser to name the bad line (only after a failure)."""
    for f in files:
        for _ in timestamped_samples(f, METRICS):
            pass
    return InvalidInput(
        f"could not be loaded: {str(exc).splitlines()[0]}",
        file=files[0] if len(files) == 1 else None,
        fix="Check that each file is OpenMetrics text exposition with timestamps.",
    )


# -- the HTTP API --------------------------------------------------------------------------------
def _get(url: str, params: dict[str, Any]) -> dict[str, Any]:
    return api_get(url, "query_range", params)


def api_get(url: str, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
    """One call of Prometheus' HTTP API (``/api/v1/<endpoint>``); errors say what to check."""
    from urllib.error import HTTPError, URLError
    from urllib.request import urlopen

    full = f"{url.rstrip('/')}/api/v1/{endpoint}?{urlencode(params)}"
    try:
        with urlopen(full, timeout=120) as response:
            doc: dict[str, Any] = json.load(response)
    except HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise InvalidInput(f"Prometheus refused the query: {detail}", file=full) from None
    except (URLError, OSError) as exc:
        raise InvalidInput(
            f"Prometheus at {url} did not answer ({exc})",
            file=full,
            fix="Check --url (e.g. http://127.0.0.1:9090) and that Prometheus is running.",
        ) from None
    if doc.get("status") != "success":
        raise InvalidInput(f"Prometheus answered {doc.get('error', doc)}", file=full)
    return doc


def query_range(url: str, query: str, start: datetime, end: datetime, step: int) -> dict[str, Any]:
    """One ``query_range`` call, evaluated from ``start`` to ``end`` every ``step`` seconds."""
    return _get(
        url,
        {
            "query": query,
            "start": start.replace(tzinfo=UTC).timestamp(),
            "end": end.replace(tzinfo=UTC).timestamp(),
            "step": step,
        },
    )


def query_buckets(
    url: str, start: datetime, end: datetime, resolution: int, selector: str = ""
) -> tuple[list[dict[str, Any]], bytes]:
    """Bucketed rows for [start, end) from Prometheus, and the raw answers (for the hash)."""
    window = f"[{resolution}s]"

    def util(fn: str, scale: str = " / 100") -> str:
        # Whole GPUs report GPU_UTIL (%); MIG instances only GR_ENGINE_ACTIVE (0-1), with
        # GPU_I_ID labels, so ``or`` keeps both without one hiding the other.
        ratio = scale if fn != "count_over_time" else ""
        return f"({fn}({UTIL}{selector}{window}){ratio}) or {fn}({GR_ACTIVE}{selector}{window})"

    queries = {
        "utilization": util("avg_over_time"),
        "utilization_min": util("min_over_time"),
        "utilization_max": util("max_over_time"),
        "sample_count": util("count_over_time"),
        "memory_used_bytes": f"avg_over_time({FB_USED}{selector}{window}) * {_MIB}",
        "memory_used_max_bytes": f"max_over_time({FB_USED}{selector}{window}) * {_MIB}",
        "memory_free_bytes": f"avg_over_time({FB_FREE}{selector}{window}) * {_MIB}",
        "power_watts": f"avg_over_time({POWER}{selector}{window})",
    }
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    raw: list[bytes] = []
    chunk = timedelta(seconds=resolution * CHUNK_POINTS)
    # Prometheus range windows are (t - r, t]; a bucket [b, b + r) is evaluated just before
    # its end, at t = b + r - 1 ms, so a sample on a bucket's first instant stays in it.
    at = start + timedelta(seconds=resolution)
    while at <= end:
        stop = min(at + chunk, end)
        for field, query in queries.items():
            doc = _get(
                url,
                {
                    "query": query,
                    "start": at.replace(tzinfo=UTC).timestamp() - _EARLY,
                    "end": stop.replace(tzinfo=UTC).timestamp() - _EARLY,
                    "step": resolution,
                },
            )
            raw.append(json.dumps(doc, sort_keys=True).encode())
            for series in doc["data"]["result"]:
                labels = series["metric"]
                fields = _gpu_fields(labels)
                for stamp, value in series["values"]:
                    bucket = datetime.fromtimestamp(
                        round(float(stamp) + _EARLY) - resolution, UTC
                    ).replace(tzinfo=None)
                    key = (*_series_key(labels), bucket)
                    row = rows.setdefault(key, {**fields, "time": bucket})
                    row[field] = float(value)
        at = stop + timedelta(seconds=resolution)
    out = []
    for row in rows.values():
        if "sample_count" not in row:
            continue  # memory or power without utilization: not a GPU sample we can use
        free = row.pop("memory_free_bytes", None)
        used = row.get("memory_used_bytes")
        row["memory_total_bytes"] = (
            round(used + free) if used is not None and free is not None else None
        )
        for k in ("memory_used_bytes", "memory_used_max_bytes"):
            row[k] = round(row[k]) if row.get(k) is not None else None
        row["sample_count"] = int(row["sample_count"])
        row["resolution_s"] = resolution
        out.append(row)
    out.sort(key=lambda r: (r["resource_id"], r["gpu_index"] or 0, r["time"]))
    return out, b"".join(raw)


def ingest_prometheus(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path = (),
    *,
    url: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    resolution: int = DEFAULT_RESOLUTION_S,
    selector: str = "",
) -> LoadResult:
    """Load DCGM metrics from Prometheus (``url``, ``start``..``end``) or OpenMetrics files.

    ``selector`` narrows the series, e.g. ``{Hostname=~"gpu-.*"}``.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    inputs = gather(paths, SUFFIXES, "OpenMetrics files") if paths else hashed([])
    files = list(inputs.files)
    if url:
        if start is None or end is None or end <= start:
            raise InvalidInput(
                "a Prometheus load needs a time window",
                fix="Pass --start and --end (RFC 3339), end after start.",
            )
        fetched, raw = query_buckets(url, start, end, resolution, selector)
        rows.extend(fetched)
        inputs = inputs.plus(
            f"{url} {start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}", sha256_bytes(raw)
        )
    if not inputs.hashes:
        raise InvalidInput("nothing to load", fix="Give OpenMetrics files or --url.")

    def write(ingest_id: int) -> Written:
        written = Written()
        loaded = 0
        if files:
            try:
                warehouse.insert(
                    "gpu_samples", _engine_buckets(warehouse, files, resolution, ingest_id)
                )
            except warehouse.errors as exc:
                raise _first_bad(files, exc) from None
            loaded = warehouse.count_rows("gpu_samples", ingest_id)
        if rows:
            table = arrow_rows("gpu_samples", rows, source=NAME, ingest_id=ingest_id)
            loaded += warehouse.insert_arrow("gpu_samples", table)
        if loaded:
            written.add("gpu_samples", loaded)
        else:
            written.warnings.append("no DCGM_FI_DEV_GPU_UTIL samples in the window")
        return written

    return load_once(
        warehouse, NAME, inputs, write, options={"resolution": resolution, "selector": selector}
    )


ingest = ingest_prometheus
SOURCE = Source(NAME, DESCRIPTION, ("gpu_samples",), ingest, detect, stage=TELEMETRY)
