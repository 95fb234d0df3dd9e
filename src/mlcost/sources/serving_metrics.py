"""Inference engines' token and request counters → ``served_tokens`` (one row per hour).

Engines count what they serve in Prometheus counters; this source turns them into hourly
tokens, requests and engine time per endpoint and model. Engines and their counters (each
summed over the labels it carries beyond endpoint and model, e.g. vLLM's
``finished_reason``):

- **vLLM** (docs.vllm.ai, "Production Metrics", V1 engine, 2026), label ``model_name``:
  ``vllm:prompt_tokens_total`` (input), ``vllm:generation_tokens_total`` (output),
  ``vllm:request_success_total`` (requests), and the histograms
  ``vllm:request_prefill_time_seconds`` / ``vllm:request_decode_time_seconds`` (their
  ``_sum``: seconds spent in prefill and decode), where the engine reports them.
- **TGI** (huggingface.co/docs/text-generation-inference/reference/metrics): histograms
  ``tgi_request_input_length`` and ``tgi_request_generated_tokens`` (their ``_sum`` counts
  tokens), the counter ``tgi_request_success``, and ``tgi_batch_forward_duration`` by
  ``method`` (``prefill`` / ``decode``: GPU time per batch). TGI serves one model and labels
  none: give it as ``model``.
- **Triton** (Triton user guide, "Metrics"), label ``model``: ``nv_inference_request_success``.
  Triton counts requests, not tokens: its rows carry no token counts (NULL, not 0).

Two ways in, one computation: a running Prometheus (``url``; the raw samples of each counter
through ``/api/v1/query`` with a range selector, so nothing is resampled) or OpenMetrics /
text exposition files with timestamps. Each series' increase between consecutive samples is
counted in the hour that ends at or after the later sample (Prometheus' window ``(t - 1h,
t]``), and a value lower than the one before is a counter reset (the engine restarted):
the increase is the new value, as Prometheus' ``increase()`` counts it. Unlike
``increase()``, nothing is extrapolated to the window's edges, so the hours of a day add up
to the counter's growth over the day. A series' first sample is its baseline: what a new
process served before its first scrape is not known (nor to ``increase()``).

The endpoint is the label ``endpoint_label`` (default ``instance``, its port dropped: the
host, as DCGM's telemetry names it) or a fixed ``endpoint``: the name a billed resource is
linked by (``served_volume`` does the same). Each row's ``row_key`` (source, endpoint,
model, tenant, hour) makes a later load of an hour replace the earlier one.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import InvalidInput, NotFound
from mlcost.sources._common import (
    WORKLOADS,
    LoadResult,
    Source,
    Written,
    gather,
    hashed,
    load_once,
    sha256_bytes,
    sniff_text,
)
from mlcost.sources._tables import arrow_rows

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

NAME = "serving-metrics"
DESCRIPTION = "vLLM, TGI and Triton token/request counters (Prometheus --url or OpenMetrics files)"
SUFFIXES = (".om.txt", ".prom", ".openmetrics")
HOUR = 3600
CHUNK_S = 6 * HOUR  # raw samples asked for per query: 6 h of a 15 s scrape is 1,440 points
FIELDS = ("input_tokens", "output_tokens", "requests", "prefill_seconds", "decode_seconds")
COUNTS = ("input_tokens", "output_tokens", "requests")


@dataclass(frozen=True)
class Engine:
    """One serving engine: the label naming the model and the counter behind each field."""

    name: str
    model_label: str | None
    counters: Mapping[str, str]  # field → metric (a counter, or a histogram's _sum)
    only: Mapping[str, tuple[str, str]] = dataclasses.field(
        default_factory=dict
    )  # field → (label, value)

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.counters.values()))


ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine(
            "vllm",
            "model_name",
            {
                "input_tokens": "vllm:prompt_tokens_total",
                "output_tokens": "vllm:generation_tokens_total",
                "requests": "vllm:request_success_total",
                "prefill_seconds": "vllm:request_prefill_time_seconds_sum",
                "decode_seconds": "vllm:request_decode_time_seconds_sum",
            },
        ),
        Engine(
            "tgi",
            None,
            {
                "input_tokens": "tgi_request_input_length_sum",
                "output_tokens": "tgi_request_generated_tokens_sum",
                "requests": "tgi_request_success",
                # Time the GPU spent in prefill and decode batches (per batch, not per request).
                "prefill_seconds": "tgi_batch_forward_duration_sum",
                "decode_seconds": "tgi_batch_forward_duration_sum",
            },
            {
                "prefill_seconds": ("method", "prefill"),
                "decode_seconds": ("method", "decode"),
            },
        ),
        Engine("triton", "model", {"requests": "nv_inference_request_success"}),
    )
}

# A series: its metric and its labels, sorted; its samples: time (epoch s) → value.
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
Samples = dict[SeriesKey, dict[float, float]]


def engine_of(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, ENGINES, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise NotFound(f"No engine named {name!r}.{hint} Known: {', '.join(ENGINES)}.") from None


def detect(path: Path) -> bool:
    head = sniff_text(path, SUFFIXES)
    return any(m in head for e in ENGINES.values() for m in e.metrics)


def counter_increases(
    samples: Mapping[float, float], *, after: float | None = None
) -> Iterator[tuple[float, float]]:
    """(time of the later sample, increase) for each pair of consecutive samples.

    A drop is a counter reset: the increase is the value after it (the counter restarted
    from zero), as Prometheus' ``increase()`` counts it. Pairs whose later sample is at or
    before ``after`` are left out (their samples only serve as the baseline).

    >>> list(counter_increases({0: 5, 60: 9, 120: 2, 180: 7}))
    [(60, 4), (120, 2), (180, 5)]
    """
    previous: float | None = None
    for ts in sorted(samples):
        value = samples[ts]
        if previous is not None and (after is None or ts > after):
            yield ts, value - previous if value >= previous else value
        previous = value


def _hour_of(ts: float) -> datetime:
    """The hour ``(h, h + 1h]`` a counter sample at ``ts`` closes: a scrape at 01:00:00
    counts what was served before it, in hour 00."""
    start = math.ceil(ts / HOUR) * HOUR - HOUR
    return datetime.fromtimestamp(start, UTC).replace(tzinfo=None)


def hourly_rows(
    samples: Samples,
    engine: Engine,
    *,
    source_file: str,
    endpoint: str | None,
    endpoint_label: str,
    model: str | None,
    after: float | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``served_tokens`` (without ingest id) from the engine's raw counter samples."""
    fields_of: dict[str, list[str]] = defaultdict(list)
    for field, metric in engine.counters.items():
        fields_of[metric].append(field)
    sums: dict[tuple[str, str, datetime], dict[str, float]] = defaultdict(dict)
    reported: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (metric, label_items), points in sorted(samples.items()):
        labels = dict(label_items)
        wanted = [
            f
            for f in fields_of.get(metric, [])
            if f not in engine.only or labels.get(engine.only[f][0]) == engine.only[f][1]
        ]
        if not wanted:
            continue
        name = endpoint or _endpoint(labels, endpoint_label)
        served = (labels.get(engine.model_label) if engine.model_label else None) or model
        if not name or not served:
            what = f"the label {endpoint_label!r}" if not name else "a model label"
            fix = (
                "Pass --endpoint NAME (or --endpoint-label LABEL)."
                if not name
                else f"Pass --model NAME ({engine.name} does not label its metrics by model)."
            )
            raise InvalidInput(
                f"the series {metric}{{{_labels_text(labels)}}} has no {what}",
                file=source_file,
                column=metric,
                fix=fix,
            )
        for field in wanted:
            reported[(name, served)].add(field)
            for ts, inc in counter_increases(points, after=after):
                cell = sums[(name, served, _hour_of(ts))]
                cell[field] = cell.get(field, 0.0) + inc
    rows = []
    for (name, served, hour), values in sorted(sums.items()):
        row: dict[str, Any] = {
            "ts": hour,
            "source": engine.name,
            "endpoint": name,
            "model": served,
            "tenant": None,
            "row_key": row_key(engine.name, name, served, None, hour),
        }
        for field in FIELDS:
            if field not in reported[(name, served)]:
                row[field] = None  # the engine does not report it: unknown, not zero
            elif field in COUNTS:
                row[field] = round(values.get(field, 0.0))
            else:
                row[field] = values.get(field, 0.0)
        rows.append(row)
    return rows


def row_key(source: str, endpoint: str, model: str, tenant: str | None, hour: datetime) -> str:
    return f"{source}|{endpoint}|{model}|{tenant or ''}|{hour:%Y-%m-%dT%H}"


def _endpoint(labels: Mapping[str, str], label: str) -> str | None:
    value = labels.get(label)
    if value and label == "instance":
        return value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return value or None


def _labels_text(labels: Mapping[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


# -- OpenMetrics files ---------------------------------------------------------------------------
def file_samples(path: Path, metrics: Iterable[str]) -> Samples:
    """Timestamped samples of ``metrics`` in an OpenMetrics / text exposition file."""
    from mlcost.sources.prometheus import timestamped_samples

    out: Samples = defaultdict(dict)
    fix = (
        "Export the counters with their sample times (e.g. promtool's OpenMetrics backfill "
        "format), or load them from Prometheus with --url."
    )
    for name, labels, value, stamp in timestamped_samples(path, metrics, fix=fix):
        out[(name, tuple(sorted(labels.items())))][stamp] = value
    return dict(out)


# -- a running Prometheus ------------------------------------------------------------------------
def query_samples(
    url: str, metrics: Iterable[str], start: datetime, end: datetime, selector: str = ""
) -> tuple[Samples, bytes]:
    """Raw samples of ``metrics`` in ``(start - 1 h, end]`` (the hour before ``start`` gives
    each series its baseline), and the answers' bytes for the content hash."""
    from mlcost.sources.prometheus import api_get

    lo = start.replace(tzinfo=UTC).timestamp() - HOUR
    hi = end.replace(tzinfo=UTC).timestamp()
    out: Samples = defaultdict(dict)
    raw: list[bytes] = []
    for metric in metrics:
        at = lo
        while at < hi:
            stop = min(at + CHUNK_S, hi)
            # A range selector returns the stored samples themselves, not a resampled grid.
            doc = api_get(
                url, "query", {"query": f"{metric}{selector}[{round(stop - at)}s]", "time": stop}
            )
            raw.append(json.dumps(doc, sort_keys=True).encode())
            for series in doc["data"]["result"]:
                labels = {k: v for k, v in series["metric"].items() if k != "__name__"}
                points = out[(metric, tuple(sorted(labels.items())))]
                for stamp, value in series.get("values", []):
                    points[float(stamp)] = float(value)
            at = stop
    return dict(out), b"".join(raw)


def ingest_serving_metrics(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path = (),
    *,
    engine: str = "vllm",
    url: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    selector: str = "",
    endpoint: str | None = None,
    endpoint_label: str = "instance",
    model: str | None = None,
) -> LoadResult:
    """Load an engine's counters as hourly ``served_tokens`` rows, in one transaction.

    From OpenMetrics files and/or a Prometheus server (``url``, ``start``..``end``; ``start``
    is taken back to its hour so that each hour loaded is whole). ``selector`` narrows the
    series, e.g. ``{job="vllm"}``.
    """
    profile = engine_of(engine)
    if isinstance(paths, str | Path):
        paths = [paths]
    inputs = gather(paths, SUFFIXES, "OpenMetrics files") if paths else hashed([])
    rows: list[dict[str, Any]] = []

    def rows_of(samples: Samples, origin: str, after: float | None = None) -> list[dict[str, Any]]:
        return hourly_rows(
            samples,
            profile,
            source_file=origin,
            endpoint=endpoint,
            endpoint_label=endpoint_label,
            model=model,
            after=after,
        )

    for f in inputs.files:
        rows.extend(rows_of(file_samples(f, profile.metrics), str(f)))
    if url:
        if start is None or end is None or end <= start:
            raise InvalidInput(
                "a Prometheus load of serving metrics needs a time window",
                fix="Pass --start and --end (RFC 3339), end after start.",
            )
        start = start.replace(minute=0, second=0, microsecond=0)
        samples, raw = query_samples(url, profile.metrics, start, end, selector)
        after = start.replace(tzinfo=UTC).timestamp()
        rows.extend(rows_of(samples, url, after))
        inputs = inputs.plus(
            f"{url} {start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}", sha256_bytes(raw)
        )
    if not inputs.hashes:
        raise InvalidInput("nothing to load", fix="Give OpenMetrics files or --url.")
    options = {
        "engine": engine,
        "selector": selector,
        "endpoint": endpoint,
        "endpoint_label": endpoint_label,
        "model": model,
    }
    return write_served_tokens(warehouse, NAME, inputs, rows, options=options)


def write_served_tokens(
    warehouse: Warehouse,
    source: str,
    inputs: Any,
    rows: list[dict[str, Any]],
    *,
    options: Mapping[str, Any],
    empty: str = "no samples of the engine's counters in the input",
) -> LoadResult:
    """One transaction: the rows, then older rows of the same key (source, endpoint, model,
    tenant, hour) deleted, so the newest load of an hour wins."""

    def write(ingest_id: int) -> Written:
        written = Written()
        if not rows:
            written.warnings.append(empty)
            return written
        table = arrow_rows("served_tokens", rows, ingest_id=ingest_id)
        written.add("served_tokens", warehouse.insert_arrow("served_tokens", table))
        written.rows_replaced = warehouse.delete_replaced("served_tokens", "row_key", ingest_id)
        return written

    return load_once(warehouse, source, inputs, write, options=dict(options))


ingest = ingest_serving_metrics
SOURCE = Source(NAME, DESCRIPTION, ("served_tokens",), ingest, detect, stage=WORKLOADS)
