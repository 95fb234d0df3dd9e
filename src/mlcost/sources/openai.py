"""OpenAI organization costs and completions usage exports → FOCUS rows with tokens.

The Costs API (``GET /v1/organization/costs``) answers pages of daily buckets whose results
(``object: organization.costs.result``) carry ``amount.value`` (a number) and
``amount.currency`` (lower-case ISO 4217, ``usd``), and, when grouped, ``project_id`` and
``line_item`` (``"<model>, input"``, ``"<model>, cached input"``, ``"<model>, output"``).
Costs carry no tokens: they come from the Usage API (``GET
/v1/organization/usage/completions``, results ``organization.usage.completions.result``:
``input_tokens`` (cached included), ``input_cached_tokens``, ``output_tokens``,
``num_model_requests``, grouped by ``project_id`` and ``model``), joined by day, project and
model. (OpenAI API reference, "Usage" and "Costs"; OpenAI cookbook "How to use the Usage API
and Cost API to monitor your OpenAI usage", 2025-01.)

Give both exports in one load (files holding the pages, as they came). A cost line item
``input`` covers the uncached input tokens (``input_tokens - input_cached_tokens``),
``cached input`` the cached ones, ``output`` the output tokens; a result without a line item
covers all three. Projects are SubAccountIds: map them to owners in
``[attribution.accounts]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mlcost.errors import InvalidInput
from mlcost.sources._common import NATIVE_BILLS, LoadResult, Source, gather
from mlcost.sources._llm_bills import (
    SUFFIXES,
    Charge,
    Provider,
    Usage,
    buckets,
    count,
    currency_of,
    load_bill,
    money,
    sniff_objects,
    when,
)

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

NAME = "openai"
DESCRIPTION = "OpenAI organization costs + completions usage exports (the API's JSON pages)"
PROVIDER = Provider(NAME, "OpenAI", "OpenAI API", "Project")
COSTS = "organization.costs.result"
USAGE = "organization.usage.completions.result"
# What each line item's cost covers, as x_ token columns.
KINDS = {
    "input": ("x_InputTokens",),
    "cached input": ("x_CachedInputTokens",),
    "output": ("x_OutputTokens",),
}
ALL = ("x_InputTokens", "x_CachedInputTokens", "x_OutputTokens")


def detect(path: Path) -> bool:
    return sniff_objects(path, (COSTS, USAGE), SUFFIXES)


def read_export(path: Path) -> tuple[list[Charge], list[Usage]]:
    """The cost and usage results of one saved export, each checked."""
    charges: list[Charge] = []
    usage: list[Usage] = []
    for where, bucket, result in buckets(path):
        kind = result.get("object")
        if kind not in (COSTS, USAGE):
            raise where.error(
                f"{kind!r} is neither {COSTS!r} nor {USAGE!r}",
                "object",
                fix="Save the answers of /v1/organization/costs and "
                "/v1/organization/usage/completions.",
            )
        start = when(where, bucket.get("start_time"), "start_time")
        project = result.get("project_id")
        if kind == USAGE:
            cached = count(where, result, "input_cached_tokens")
            total_in = count(where, result, "input_tokens")
            if cached > total_in:
                raise where.error(
                    f"input_cached_tokens {cached} exceeds input_tokens {total_in}",
                    "input_cached_tokens",
                )
            usage.append(
                Usage(
                    start,
                    {"project": project, "model": result.get("model")},
                    {
                        "x_InputTokens": total_in - cached,
                        "x_CachedInputTokens": cached,
                        "x_OutputTokens": count(where, result, "output_tokens"),
                    },
                )
            )
            continue
        amount = result.get("amount")
        if not isinstance(amount, dict):
            raise where.error("has no amount object", "amount")
        line_item = result.get("line_item")
        model, _, meter = (line_item or "").rpartition(", ")
        model = model or None
        wants = KINDS.get(meter, ()) if line_item else ALL
        charges.append(
            Charge(
                where=where,
                start=start,
                end=when(where, bucket.get("end_time"), "end_time"),
                amount=money(where, amount.get("value"), "amount.value"),
                currency=currency_of(where, amount.get("currency"), "amount.currency"),
                sub_account=project,
                model=model,
                meter=meter or None,
                description=line_item,
                dims={"project": project, "model": model},
                wants=wants,
            )
        )
    return charges, usage


def ingest_openai(
    warehouse: Warehouse, paths: Iterable[str | Path] | str | Path, *, account: str = "openai"
) -> LoadResult:
    """Load OpenAI cost (and usage) exports as FOCUS rows in one transaction.

    ``account`` is the BillingAccountId of the rows (the exports do not name the
    organization); a newer export of a month replaces that account's month.
    """
    inputs = gather(paths, SUFFIXES, "OpenAI cost and usage exports (JSON pages)")
    if not inputs.files:
        raise InvalidInput("nothing to load", fix="Give the cost export's JSON pages.")
    charges: list[Charge] = []
    usage: list[Usage] = []
    for f in inputs.files:
        c, u = read_export(f)
        charges += c
        usage += u
    notes = []
    if not usage:
        notes.append("no usage export given: the cost rows carry no tokens")
    return load_bill(warehouse, PROVIDER, inputs, charges, usage, account=account, notes=notes)


ingest = ingest_openai
SOURCE = Source(NAME, DESCRIPTION, ("cost_line_items",), ingest, detect, stage=NATIVE_BILLS)
