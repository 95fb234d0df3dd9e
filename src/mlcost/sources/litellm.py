"""LiteLLM proxy spend logs → ``served_tokens`` per tenant (team, key or user) and hour.

LiteLLM's proxy writes one row per request to its ``LiteLLM_SpendLogs`` table (docs.litellm.ai,
"Spend Tracking"; columns as in its ``schema.prisma``, 2026): ``request_id``, ``startTime``,
``model``, ``api_base``, ``prompt_tokens``, ``completion_tokens``, ``team_id``, ``user``,
``end_user``, ``api_key`` (a hash), ``custom_llm_provider``, ``status`` (``success`` /
``failure``) and more. Read here as the table exported to CSV (``\\copy ... CSV HEADER``) or
as JSON (a list of rows, as ``/spend/logs`` returns them, or JSON lines).

The gateway knows who asked; the engine only knows what it served. Rows are summed per hour
(by ``startTime``), endpoint (the host of ``api_base``: the name the engine's own counters
carry), model and tenant (the column ``tenant_field``, default ``team_id``; an empty one is
NULL), into ``served_tokens`` with ``source = 'litellm'``, beside the engine's totals
(``tenant`` NULL). Failed requests are left out, as the engine's success counter leaves them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mlcost.errors import BadValue, InvalidInput
from mlcost.sources._common import (
    WORKLOADS,
    LoadResult,
    Source,
    csv_records,
    file_format,
    gather,
    number,
    open_text,
    parse_time,
    sniff_columns,
)
from mlcost.sources.serving_metrics import row_key, write_served_tokens

if TYPE_CHECKING:
    from datetime import datetime

    from mlcost.warehouse import Warehouse

NAME = "litellm"
DESCRIPTION = "LiteLLM proxy spend logs (LiteLLM_SpendLogs as CSV or JSON): tokens per tenant"
SUFFIXES = (".csv", ".csv.gz", ".json", ".jsonl", ".json.gz", ".jsonl.gz")
REQUIRED = ("request_id", "startTime", "model", "prompt_tokens", "completion_tokens")
TENANT_FIELDS = ("team_id", "user", "end_user", "api_key")


def detect(path: Path) -> bool:
    return set(REQUIRED) <= set(sniff_columns(path, SUFFIXES)) or (
        file_format(path) == "json" and _json_list_head(path)
    )


def _json_list_head(path: Path) -> bool:
    """A JSON array of spend log rows (what ``/spend/logs`` returns)."""
    from mlcost.sources._common import sniff_text

    head = sniff_text(path, SUFFIXES, 4096).lstrip()
    return head.startswith("[") and all(f'"{c}"' in head for c in REQUIRED)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, record) of a spend-log export; row 1 is the first record."""
    if file_format(path) == "csv":
        yield from csv_records(
            path,
            REQUIRED,
            what="LiteLLM spend log",
            fix='Export the LiteLLM_SpendLogs table with its header (\\copy "LiteLLM_SpendLogs" '
            "TO FILE CSV HEADER).",
        )
        return
    with open_text(path) as fh:
        text = fh.read()
    try:
        doc = json.loads(text)
        records = doc if isinstance(doc, list) else [doc]
    except json.JSONDecodeError:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise BadValue(
                f"is not JSON or JSON lines ({exc.msg})", file=path, row=exc.lineno
            ) from None
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise BadValue("is not a JSON object (one spend log row)", file=path, row=n)
        yield n, rec


def _count(rec: dict[str, Any], column: str, path: Path, n: int) -> int:
    value = number(rec.get(column), file=path, row=n, column=column)
    if value is None or value < 0 or value != int(value):
        raise BadValue(
            f"{rec.get(column)!r} is not a count of tokens",
            file=path,
            row=n,
            column=column,
            fix="Token counts are whole numbers, zero or more.",
        )
    return int(value)


def _endpoint(rec: dict[str, Any], fixed: str | None, path: Path, n: int) -> str:
    if fixed:
        return fixed
    base = str(rec.get("api_base") or "").strip()
    host = urlparse(base if "//" in base else f"//{base}").hostname if base else None
    if not host:
        raise BadValue(
            f"{base!r} names no host",
            file=path,
            row=n,
            column="api_base",
            fix="Pass --endpoint NAME: the endpoint these requests were served by.",
        )
    return host


def _model(rec: dict[str, Any]) -> str:
    """The model as the engine names it: LiteLLM keeps a provider prefix in some versions."""
    model = str(rec["model"]).strip()
    provider = str(rec.get("custom_llm_provider") or "").strip()
    if provider and model.startswith(provider + "/"):
        return model[len(provider) + 1 :]
    return model


def aggregate(
    paths: Iterable[Path], *, tenant_field: str, endpoint: str | None
) -> list[dict[str, Any]]:
    """Hourly rows per endpoint, model and tenant from spend logs (checked row by row)."""
    sums: dict[tuple[datetime, str, str, str | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    for path in paths:
        for n, rec in read_rows(path):
            if str(rec.get("status") or "success").lower() != "success":
                continue  # the engine's success counter leaves failures out too
            for column in REQUIRED:
                if rec.get(column) in (None, ""):
                    raise BadValue("is empty", file=path, row=n, column=column)
            start = parse_time(rec["startTime"], file=path, row=n, column="startTime")
            assert start is not None
            hour = start.replace(minute=0, second=0, microsecond=0)
            tenant = str(rec.get(tenant_field) or "").strip() or None
            key = (hour, _endpoint(rec, endpoint, path, n), _model(rec), tenant)
            cell = sums[key]
            cell[0] += _count(rec, "prompt_tokens", path, n)
            cell[1] += _count(rec, "completion_tokens", path, n)
            cell[2] += 1
    return [
        {
            "ts": hour,
            "source": NAME,
            "endpoint": name,
            "model": model,
            "tenant": tenant,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "requests": requests,
            "row_key": row_key(NAME, name, model, tenant, hour),
        }
        for (hour, name, model, tenant), (tokens_in, tokens_out, requests) in sorted(
            sums.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or "")
        )
    ]


def ingest_litellm(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path,
    *,
    tenant_field: str = "team_id",
    endpoint: str | None = None,
) -> LoadResult:
    """Load LiteLLM spend logs as hourly per-tenant ``served_tokens`` rows, in one transaction.

    ``tenant_field``: the column naming the tenant (``team_id``, ``user``, ``end_user`` or
    ``api_key``); ``endpoint``: the endpoint of every row, instead of ``api_base``'s host.
    """
    if tenant_field not in TENANT_FIELDS:
        raise InvalidInput(
            f"{tenant_field!r} is not a tenant column of the spend logs",
            fix=f"Use one of {', '.join(TENANT_FIELDS)}.",
        )
    inputs = gather(paths, SUFFIXES, "LiteLLM spend log exports")
    rows = aggregate(inputs.files, tenant_field=tenant_field, endpoint=endpoint)
    options = {"tenant_field": tenant_field, "endpoint": endpoint}
    return write_served_tokens(
        warehouse, NAME, inputs, rows, options=options, empty="no successful requests in the logs"
    )


ingest = ingest_litellm
SOURCE = Source(NAME, DESCRIPTION, ("served_tokens",), ingest, detect, stage=WORKLOADS)
