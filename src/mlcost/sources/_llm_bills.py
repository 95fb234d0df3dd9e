"""LLM API bills (OpenAI, Anthropic) → FOCUS rows: what the two provider modules share.

Both providers answer a cost endpoint and a usage endpoint in pages of time buckets; the
user saves the pages an API returned (one page object, a JSON array of pages, or JSON lines
of pages). A provider module turns its pages into :class:`Charge` (one cost result) and
:class:`Usage` (one usage result); this module joins each charge to the usage of its bucket
(tokens: the cost endpoints carry none), builds FOCUS 1.4 rows and loads them the way every
bill is loaded: one transaction, ``x_IngestId``/``x_SourceId``, a newer export of a billing
account's month replacing the older (restatements), the daily rollup kept current.

FOCUS mapping: ServiceProviderName / HostProviderName / InvoiceIssuerName the provider,
ServiceCategory ``AI and Machine Learning`` / ServiceSubcategory ``Generative AI``, SkuId the
model, SkuMeter what was metered (``input``, ``output_tokens``, ``web_search``…),
ConsumedQuantity the tokens in ``Tokens``, SubAccountId the project or workspace (so
``[attribution.accounts]`` maps it to an owner as it maps cloud accounts), all four costs the
amount (list prices, no discount in these exports). The token split goes to
``x_InputTokens`` (uncached input), ``x_CachedInputTokens``, ``x_CacheWriteTokens`` and
``x_OutputTokens``, each row holding the tokens its cost covers, so the columns add up.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import BadValue, InvalidInput, MissingCurrency
from mlcost.sources._common import LoadResult, Written, load_once, open_text, parse_time

if TYPE_CHECKING:
    from mlcost.sources._common import Inputs
    from mlcost.warehouse import Warehouse

SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
TOKEN_FIELDS = ("x_InputTokens", "x_CachedInputTokens", "x_CacheWriteTokens", "x_OutputTokens")


@dataclass(frozen=True)
class Where:
    """A place in a saved export: the file, the page (1-based) and the JSON path in it."""

    file: Path
    page: int
    path: str

    def error(self, problem: str, leaf: str | None = None, *, fix: str | None = None) -> BadValue:
        column = f"{self.path}.{leaf}" if leaf else self.path
        return BadValue(f"(page {self.page}) {problem}", file=self.file, column=column, fix=fix)


@dataclass(frozen=True)
class Usage:
    """One usage result: its bucket start, what it is grouped by, its token counts."""

    start: datetime
    dims: Mapping[str, str | None]
    tokens: Mapping[str, int]  # x_ column → tokens


@dataclass(frozen=True)
class Charge:
    """One cost result, normalized; ``wants``: the x_ token columns its cost covers."""

    where: Where
    start: datetime
    end: datetime
    amount: Decimal
    currency: str
    sub_account: str | None
    model: str | None
    meter: str | None
    description: str | None
    dims: Mapping[str, str | None] = field(default_factory=dict)
    wants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provider:
    """What differs between providers in the FOCUS rows."""

    source: str
    name: str  # ServiceProviderName, e.g. "OpenAI"
    service: str  # ServiceName
    sub_account_type: str  # SubAccountType: "Project", "Workspace"


def read_pages(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(page number, page) of a saved export: one page, an array of pages, or JSON lines.

    Numbers are read as :class:`~decimal.Decimal`, so amounts keep every digit.
    """
    with open_text(path) as fh:
        text = fh.read()
    try:
        doc = json.loads(text, parse_float=Decimal)
        pages = doc if isinstance(doc, list) else [doc]
    except json.JSONDecodeError:
        pages = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                pages.append(json.loads(line, parse_float=Decimal))
            except json.JSONDecodeError as exc:
                raise BadValue(
                    f"is not JSON, a JSON array of pages or JSON lines ({exc.msg})",
                    file=path,
                    row=n,
                    fix="Save each page the API returned, unchanged.",
                ) from None
    out = []
    for n, page in enumerate(pages, start=1):
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise BadValue(
                f"(page {n}) is not a page of the API: it has no 'data' list",
                file=path,
                column=f"pages[{n - 1}].data",
                fix="Save the API's answers as they came (objects with data, has_more).",
            )
        out.append((n, page))
    return out


def buckets(path: Path) -> Iterator[tuple[Where, dict[str, Any], Any]]:
    """(where, bucket, result) for every result of every bucket of every page."""
    for n, page in read_pages(path):
        for b, bucket in enumerate(page["data"]):
            where = Where(path, n, f"pages[{n - 1}].data[{b}]")
            if not isinstance(bucket, dict) or not isinstance(bucket.get("results"), list):
                raise where.error("is not a time bucket with a 'results' list", "results")
            for r, result in enumerate(bucket["results"]):
                spot = Where(path, n, f"{where.path}.results[{r}]")
                if not isinstance(result, dict):
                    raise spot.error("is not a JSON object")
                yield spot, bucket, result


def when(where: Where, value: Any, leaf: str) -> datetime:
    """A bucket bound: epoch seconds (OpenAI) or RFC 3339 (Anthropic)."""
    if isinstance(value, Decimal):
        value = float(value)
    try:
        parsed = parse_time(value, file=where.file, row=None, column=f"{where.path}.{leaf}")
    except BadValue:
        parsed = None
    if parsed is None:
        raise where.error(f"{value!r} is not a time", leaf, fix="Keep the pages unchanged.")
    return parsed


def count(where: Where, result: Mapping[str, Any], leaf: str) -> int:
    """A token count: a whole number, zero or more (absent: zero, as the APIs omit zeros)."""
    value: Any = result
    for part in leaf.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value < 0:
        raise where.error(f"{value!r} is not a count of tokens", leaf)
    if value != int(value):
        raise where.error(f"{value!r} is not a whole number of tokens", leaf)
    return int(value)


def money(where: Where, value: Any, leaf: str) -> Decimal:
    """An amount given as a JSON number or a decimal string."""
    if isinstance(value, bool) or value is None:
        raise where.error(f"{value!r} is not an amount", leaf)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise where.error(f"{value!r} is not an amount", leaf) from None
    if not amount.is_finite():
        raise where.error(f"{value!r} is not an amount", leaf)
    return amount


def currency_of(where: Where, value: Any, leaf: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MissingCurrency(
            f"(page {where.page}) the amount has no currency",
            file=where.file,
            column=f"{where.path}.{leaf}",
            fix="Keep the pages unchanged: every amount of the API carries its currency.",
        )
    return value.strip().upper()


def grouped_by(charges: Iterable[Charge]) -> frozenset[str]:
    """The dimensions the cost export was grouped by: those with a value somewhere in it.

    In a grouped export a null is a group of its own (Anthropic's default workspace has a
    null ``workspace_id``); in an ungrouped one it stands for every value.
    """
    return frozenset(k for c in charges for k, v in c.dims.items() if v is not None)


def tokens_for(
    charge: Charge, usage: Iterable[Usage], grouped: frozenset[str]
) -> dict[str, int] | None:
    """The usage tokens of the charge's bucket and grouping, for the columns it covers.

    A usage result counts when it starts inside the charge's bucket and has the charge's
    value of every dimension the costs are ``grouped`` by (a cost export not grouped by
    model covers every model). None when no usage result matches: its tokens are unknown,
    not zero.
    """
    found: dict[str, int] | None = None
    for u in usage:
        if not charge.start <= u.start < charge.end:
            continue
        if any(k in grouped and u.dims.get(k) != v for k, v in charge.dims.items()):
            continue
        found = found or dict.fromkeys(charge.wants, 0)
        for column in charge.wants:
            found[column] += u.tokens.get(column, 0)
    return found


def month_bounds(t: datetime) -> tuple[datetime, datetime]:
    start = datetime(t.year, t.month, 1)
    return start, datetime(t.year + t.month // 12, t.month % 12 + 1, 1)


def focus_rows(
    provider: Provider, account: str, charges: Iterable[Charge], usage: list[Usage]
) -> tuple[list[dict[str, Any]], int]:
    """FOCUS rows (column → value) of the charges, and how many lack their tokens."""
    charges = list(charges)
    grouped = grouped_by(charges)
    rows = []
    unmatched = 0
    for c in charges:
        tokens = tokens_for(c, usage, grouped) if c.wants else None
        if c.wants and tokens is None:
            unmatched += 1
        period_start, period_end = month_bounds(c.start)
        row: dict[str, Any] = {
            "BillingAccountId": account,
            "BillingAccountName": account,
            "BillingPeriodStart": period_start,
            "BillingPeriodEnd": period_end,
            "ChargePeriodStart": c.start,
            "ChargePeriodEnd": c.end,
            "BillingCurrency": c.currency,
            "BilledCost": c.amount,
            "EffectiveCost": c.amount,
            "ListCost": c.amount,
            "ContractedCost": c.amount,
            "ChargeCategory": "Usage",
            "ChargeFrequency": "Usage-Based",
            "ChargeDescription": c.description,
            "PricingCategory": "Standard",
            "ServiceProviderName": provider.name,
            "HostProviderName": provider.name,
            "InvoiceIssuerName": provider.name,
            "ServiceCategory": "AI and Machine Learning",
            "ServiceSubcategory": "Generative AI",
            "ServiceName": provider.service,
            "SubAccountId": c.sub_account,
            "SubAccountType": provider.sub_account_type if c.sub_account else None,
            "SkuId": c.model,
            "SkuMeter": c.meter,
            "ConsumedQuantity": Decimal(sum(tokens.values())) if tokens else None,
            "ConsumedUnit": "Tokens" if tokens else None,
            "x_SourceId": f"{provider.source}:{c.where.file}",
        }
        for column in TOKEN_FIELDS:
            row[column] = tokens.get(column) if tokens else None
        rows.append(row)
    return rows, unmatched


def _arrow(rows: list[dict[str, Any]], ingest_id: int) -> Any:
    import pyarrow as pa

    money_type = pa.decimal128(38, 12)
    types: dict[str, Any] = {
        "BillingPeriodStart": pa.timestamp("us"),
        "BillingPeriodEnd": pa.timestamp("us"),
        "ChargePeriodStart": pa.timestamp("us"),
        "ChargePeriodEnd": pa.timestamp("us"),
        "BilledCost": money_type,
        "EffectiveCost": money_type,
        "ListCost": money_type,
        "ContractedCost": money_type,
        "ConsumedQuantity": money_type,
        **dict.fromkeys(TOKEN_FIELDS, pa.int64()),
    }
    names = list(rows[0]) if rows else []
    columns = {n: pa.array([r[n] for r in rows], type=types.get(n, pa.string())) for n in names}
    columns["x_IngestId"] = pa.array([ingest_id] * len(rows), type=pa.int64())
    return pa.table(columns)


def load_bill(
    warehouse: Warehouse,
    provider: Provider,
    inputs: Inputs,
    charges: list[Charge],
    usage: list[Usage],
    *,
    account: str,
    notes: Iterable[str] = (),
) -> LoadResult:
    """Load the charges as FOCUS rows in one transaction, as every bill is loaded."""
    if not charges:
        raise InvalidInput(
            f"no {provider.name} cost results to load",
            file=inputs.files[0] if inputs.files else None,
            fix=f"Give the {provider.name} cost export (the usage export only adds tokens).",
        )
    rows, unmatched = focus_rows(provider, account, charges, usage)

    def write(ingest_id: int) -> Written:
        written = Written(dataset="CostAndUsage")
        warehouse.insert_arrow("cost_line_items", _arrow(rows, ingest_id))
        written.bills(warehouse, ingest_id)
        written.warnings.extend(notes)
        if unmatched:
            written.warnings.append(
                f"{unmatched:,} cost row(s) have no usage result of their day, "
                f"{provider.sub_account_type.lower()} and model: their tokens are unknown "
                "(give the usage export grouped like the costs)"
            )
        return written

    result = load_once(warehouse, provider.source, inputs, write, options={"account": account})
    if result.already_loaded:
        return result
    from mlcost.spending import total_by_currency

    return dataclasses.replace(
        result, effective_cost=total_by_currency(warehouse, ingest_id=result.ingest_id)
    )


def sniff_objects(path: Path, markers: Iterable[str], suffixes: tuple[str, ...]) -> bool:
    """For ``detect``: whether the file's start holds one of ``markers`` (JSON keys/values)."""
    from mlcost.sources._common import sniff_text

    head = sniff_text(path, suffixes)
    return '"data"' in head and any(m in head for m in markers)
