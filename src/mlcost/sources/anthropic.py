"""Anthropic cost report and messages usage report → FOCUS rows with tokens.

The Admin API's cost report (``GET /v1/organizations/cost_report``) answers pages
(``data``, ``has_more``, ``next_page``) of daily buckets (``starting_at``, ``ending_at``,
RFC 3339) whose ``results`` carry ``amount``, **in the currency's lowest units (cents) as a
decimal string** (``"123.45"`` in ``USD`` is $1.23), ``currency``, and, grouped by
``workspace_id`` and ``description``: ``workspace_id``, ``model``, ``cost_type``
(``tokens``, ``web_search``, ``code_execution``…), ``token_type``
(``uncached_input_tokens``, ``output_tokens``, ``cache_read_input_tokens``,
``cache_creation.ephemeral_5m_input_tokens``, ``cache_creation.ephemeral_1h_input_tokens``),
``service_tier`` and ``context_window``. The messages usage report
(``GET /v1/organizations/usage_report/messages``) gives the tokens per bucket (1d, 1h or
1m) and grouping: ``uncached_input_tokens``, ``cache_read_input_tokens``,
``cache_creation.ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens``,
``output_tokens``. (platform.claude.com, API reference, Admin: "Get Cost Report", "Get
Messages Usage Report", 2026.) A cost row takes the usage of its day, workspace, model,
service tier and context window, for its token type. Requests through the default workspace
have a null ``workspace_id``: their rows have no SubAccountId, and fall to the billing
account's owner in ``[attribution.accounts]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import InvalidInput
from mlcost.sources._common import NATIVE_BILLS, LoadResult, Source, gather
from mlcost.sources._llm_bills import (
    SUFFIXES,
    Charge,
    Provider,
    Usage,
    Where,
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

NAME = "anthropic"
DESCRIPTION = "Anthropic cost report + messages usage report (the Admin API's JSON pages)"
PROVIDER = Provider(NAME, "Anthropic", "Claude API", "Workspace")
CENTS = 100  # the cost report's amounts are in the currency's lowest units
# The usage report's count behind each token type of the cost report, as x_ columns.
TOKEN_TYPES = {
    "uncached_input_tokens": ("x_InputTokens", "uncached_input_tokens"),
    "cache_read_input_tokens": ("x_CachedInputTokens", "cache_read_input_tokens"),
    "cache_creation.ephemeral_5m_input_tokens": (
        "x_CacheWriteTokens",
        "cache_creation.ephemeral_5m_input_tokens",
    ),
    "cache_creation.ephemeral_1h_input_tokens": (
        "x_CacheWriteTokens",
        "cache_creation.ephemeral_1h_input_tokens",
    ),
    "output_tokens": ("x_OutputTokens", "output_tokens"),
}
DIMS = ("workspace_id", "model", "service_tier", "context_window")


def detect(path: Path) -> bool:
    return sniff_objects(path, ('"uncached_input_tokens"', '"token_type"', '"cost_type"'), SUFFIXES)


def _usage_tokens(where: Where, result: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per token type: {x_ column: tokens}. Older answers spell the cache writes flat
    (``cache_creation_5m_input_tokens``); both are read."""
    out = {}
    for token_type, (column, leaf) in TOKEN_TYPES.items():
        n = count(where, result, leaf)
        if not n and leaf.startswith("cache_creation."):
            flat = leaf.replace("cache_creation.ephemeral_", "cache_creation_")
            n = count(where, result, flat)
        out[token_type] = {column: n}
    return out


def read_export(path: Path) -> tuple[list[Charge], list[Usage]]:
    """The cost and usage results of one saved report, each checked."""
    charges: list[Charge] = []
    usage: list[Usage] = []
    for where, bucket, result in buckets(path):
        start = when(where, bucket.get("starting_at"), "starting_at")
        dims = {d: result.get(d) for d in DIMS}
        if "amount" not in result:
            if "uncached_input_tokens" not in result and "output_tokens" not in result:
                raise where.error(
                    "is neither a cost result (amount) nor a usage result (token counts)",
                    fix="Save the answers of /v1/organizations/cost_report and "
                    "/v1/organizations/usage_report/messages.",
                )
            for token_type, tokens in _usage_tokens(where, result).items():
                usage.append(Usage(start, {**dims, "token_type": token_type}, tokens))
            continue
        cents = money(where, result.get("amount"), "amount")
        token_type = result.get("token_type")
        wants: tuple[str, ...] = ()
        if token_type in TOKEN_TYPES:
            wants = (TOKEN_TYPES[token_type][0],)
        elif token_type is None and result.get("cost_type") is None:
            wants = tuple(dict.fromkeys(c for c, _ in TOKEN_TYPES.values()))  # not by description
        charges.append(
            Charge(
                where=where,
                start=start,
                end=when(where, bucket.get("ending_at"), "ending_at"),
                amount=cents / CENTS,
                currency=currency_of(where, result.get("currency"), "currency"),
                sub_account=result.get("workspace_id"),
                model=result.get("model"),
                meter=token_type or result.get("cost_type"),
                description=result.get("description"),
                dims={**dims, "token_type": token_type},
                wants=wants,
            )
        )
    return charges, usage


def ingest_anthropic(
    warehouse: Warehouse, paths: Iterable[str | Path] | str | Path, *, account: str = "anthropic"
) -> LoadResult:
    """Load Anthropic cost (and usage) reports as FOCUS rows in one transaction.

    ``account`` is the BillingAccountId (the reports do not name the organization); a
    newer report of a month replaces that account's month.
    """
    inputs = gather(paths, SUFFIXES, "Anthropic cost and usage reports (JSON pages)")
    if not inputs.files:
        raise InvalidInput("nothing to load", fix="Give the cost report's JSON pages.")
    charges: list[Charge] = []
    usage: list[Usage] = []
    for f in inputs.files:
        c, u = read_export(f)
        charges += c
        usage += u
    notes = [] if usage else ["no usage report given: the cost rows carry no tokens"]
    return load_bill(warehouse, PROVIDER, inputs, charges, usage, account=account, notes=notes)


ingest = ingest_anthropic
SOURCE = Source(NAME, DESCRIPTION, ("cost_line_items",), ingest, detect, stage=NATIVE_BILLS)
