"""FOCUS exports: detect the version, check, map onto the FOCUS 1.4 table, load atomically.

Reads CSV, CSV.gz and Parquet; one file, many files, or a directory of them. Versions 1.0 to
1.4 are recognized from their columns and mapped onto 1.4 (``ProviderName``/``PublisherName``
become ``ServiceProviderName``/``HostProviderName`` as the FOCUS 1.2→1.3 migration guidance
describes, and are kept as ``x_ProviderName``/``x_PublisherName``).

Guarantees:

- **One transaction per ingest.** Bad input, an exception or ``kill -9`` leaves the warehouse
  exactly as it was.
- **Idempotent.** Files whose content was loaded before are not loaded again.
- **Restatements.** A newer export of a (BillingAccountId, BillingPeriodStart) replaces the
  rows an earlier ingest wrote for it. Files given in one call form one export.
- **Streaming.** DuckDB reads the files; no file is held in Python memory.

Example::

    >>> from mlcost import open_warehouse, ingest_focus
    >>> wh = open_warehouse("duckdb://:memory:")
    >>> result = ingest_focus(wh, [sample_path])  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import BadValue, InvalidInput, MissingColumn, MissingCurrency, NotFocus
from mlcost.sources._common import (
    FOCUS_BILLS,
    LoadResult,
    Progress,
    Source,
    Written,
    expand_files,
    gather,
    load_once,
    open_text,
    read_columns,
    sniff_columns,
    with_gpu_columns,
)
from mlcost.warehouse import CSV_NULLS, FOCUS_BY_NAME, FOCUS_COLUMNS, X_TYPES, Warehouse

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse._functions import EngineFunctions

NAME = "focus"
DESCRIPTION = "FOCUS 1.0–1.4 Cost and Usage (and ContractCommitment) exports: CSV, CSV.gz, Parquet"
SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4")

LEGACY_PROVIDER_COLUMNS = ("ProviderName", "PublisherName")  # removed in FOCUS 1.4
COST_METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
# Columns mlcost cannot work without when they are present: money needs a currency and an
# amount, time needs a start, restatements need the account and the period.
REQUIRED_VALUES = (
    "BillingCurrency",
    "BilledCost",
    "EffectiveCost",
    "ChargePeriodStart",
    "BillingAccountId",
    "BillingPeriodStart",
)
CONTRACT_COMMITMENT_COLUMNS = (
    "ContractId",
    "ContractCommitmentId",
    "ContractCommitmentType",
    "ContractCommitmentCategory",
    "ContractCommitmentDescription",
    "ContractCommitmentCost",
    "ContractCommitmentQuantity",
    "ContractCommitmentUnit",
    "ContractCommitmentPeriodStart",
    "ContractCommitmentPeriodEnd",
    "ContractPeriodStart",
    "ContractPeriodEnd",
    "BillingCurrency",
)
_CC_DECIMALS = {"ContractCommitmentCost", "ContractCommitmentQuantity"}
_CC_TIMESTAMPS = {c for c in CONTRACT_COMMITMENT_COLUMNS if c.endswith(("Start", "End"))}

# Columns whose presence marks the lowest FOCUS version a file can be (newest first): the
# columns each version introduced, from the one table of FOCUS facts in warehouse/_schema.py.
_VERSION_MARKERS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (f"{major}.{minor}", frozenset(c.name for c in FOCUS_COLUMNS if c.since == (major, minor)))
    for major, minor in ((1, 4), (1, 3), (1, 2), (1, 1))
)
_PRE_1_0_COLUMNS = frozenset({"AmortizedCost", "ChargeType", "UsageQuantity", "UsageUnit"})
_MARKER = "mlcost-check"  # prefix of errors raised from inside the load query
COST_AND_USAGE = "CostAndUsage"


SUFFIXES = (".csv", ".csv.gz", ".parquet")
WHAT = "FOCUS export files (.csv, .csv.gz, .parquet)"


@dataclass(frozen=True)
class FocusFile:
    """One input file, inspected but not yet loaded."""

    path: Path
    fmt: str  # "csv" or "parquet"
    columns: tuple[str, ...]
    dataset: str  # "CostAndUsage" or "ContractCommitment"
    version: str
    size: int


IngestResult = LoadResult  # what ingest_focus returns: the result every source returns


# -- finding and inspecting files ----------------------------------------------------------
def _format_of(path: Path) -> str:
    return "parquet" if path.name.lower().endswith(".parquet") else "csv"


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, plus every CSV, CSV.gz and Parquet file under directories named."""
    return expand_files(paths, SUFFIXES, WHAT, refuse=NotFocus)


def detect(path: Path) -> bool:
    """True when ``path`` looks like a FOCUS export this module can read."""
    columns = sniff_columns(path, SUFFIXES)
    try:
        _dataset_and_version(path, columns)
    except InvalidInput:
        return False
    return bool(columns)


def _dataset_and_version(path: Path, columns: Sequence[str]) -> tuple[str, str]:
    cols = set(columns)
    if "ContractCommitmentId" in cols and "ChargePeriodStart" not in cols:
        return "ContractCommitment", "1.4" if "ContractCommitmentDescription" in cols else "1.3"
    known = cols & (set(FOCUS_BY_NAME) | set(LEGACY_PROVIDER_COLUMNS))
    if cols & _PRE_1_0_COLUMNS and not cols & {"EffectiveCost", "ConsumedQuantity"}:
        raise NotFocus(
            "uses FOCUS 0.5 / 1.0-preview columns (AmortizedCost, ChargeType, UsageQuantity)",
            file=path,
            fix="Export the data as FOCUS 1.0 or later; mlcost reads FOCUS 1.0 to 1.4.",
        )
    if not cols & set(COST_METRICS) or len(known) < 2:
        sample = ", ".join(list(columns)[:5])
        raise NotFocus(
            f"is not a FOCUS Cost and Usage export: none of {', '.join(COST_METRICS)} "
            f"is among its columns (it starts with {sample})",
            file=path,
            fix="Export the bill in FOCUS format (AWS Data Exports 'FOCUS 1.2', Azure Cost "
            "Management 'FOCUS cost', GCP FOCUS BigQuery view), or use the native-format "
            "source for this file. List sources with `mlcost sources --available`.",
        )
    for version, markers in _VERSION_MARKERS:
        if cols & markers:
            if version == "1.3" and not cols & set(LEGACY_PROVIDER_COLUMNS):
                return COST_AND_USAGE, "1.4"  # 1.4 removed ProviderName and PublisherName
            return COST_AND_USAGE, version
    return COST_AND_USAGE, "1.0"


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def mandatory_columns(version: str) -> list[str]:
    """Columns FOCUS ``version`` makes mandatory in a Cost and Usage export."""
    v = _version_tuple(version)
    names = [c.name for c in FOCUS_COLUMNS if c.mandatory and c.since <= v]
    if v <= (1, 2):
        names += list(LEGACY_PROVIDER_COLUMNS)
    return sorted(names)


def inspect_file(
    path: Path, *, allow_missing: bool = False, currency: str | None = None
) -> FocusFile:
    """Read a file's header, detect dataset and version, and check mandatory columns."""
    fmt = _format_of(path)
    columns = read_columns(path, error=NotFocus)
    if not columns:
        raise NotFocus("is empty: no header row", file=path)
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise InvalidInput(
            f"has the column(s) {', '.join(duplicates)} more than once",
            file=path,
            column=duplicates[0],
            fix="Remove the duplicate header so each column appears once.",
        )
    dataset, version = _dataset_and_version(path, columns)
    if dataset == COST_AND_USAGE and not allow_missing:
        missing = [c for c in mandatory_columns(version) if c not in columns]
        if currency:
            missing = [c for c in missing if c != "BillingCurrency"]
        if missing:
            fix = (
                f"Export the file with every FOCUS {version} mandatory column. For a partial "
                "file (a worked example, a hand-made fixture) pass --allow-missing to load "
                "absent columns as empty."
            )
            if "BillingCurrency" in missing:
                fix += " If every amount is in one currency, --currency CODE supplies it."
            raise MissingColumn(
                f"lacks the FOCUS {version} mandatory column(s) {', '.join(missing)}",
                file=path,
                column=missing[0],
                fix=fix,
            )
    return FocusFile(path, fmt, columns, dataset, version, path.stat().st_size)


# -- building the load query ------------------------------------------------------------------
def _fail(fn: EngineFunctions, check: str, column: str, dtype: Any) -> Any:
    return fn.fail(f"{_MARKER}:{check}:{column}", dtype)


def _ibis_type(kind: str) -> Any:
    import ibis.expr.datatypes as dt

    types = {
        "string": dt.string,
        "decimal": dt.Decimal(38, 12),
        "timestamp": dt.timestamp,
        "json": dt.JSON(),
        "tags": dt.Map(dt.string, dt.string),
    }
    return types[kind]


def _as_kind(col: ir.Column, kind: str, fn: EngineFunctions) -> ir.Value:
    """Convert a source column (text from CSV, typed from Parquet) to a FOCUS kind."""
    import ibis
    import ibis.expr.datatypes as dt

    src = col.type()
    if kind == "decimal":
        return col.cast(dt.Decimal(38, 12))
    if kind == "timestamp":
        if src.is_timestamp() and src.timezone is None:
            return col  # already a wall time; FOCUS times are UTC
        if src.is_string() or src.is_timestamp():
            return fn.utc_timestamp(col.cast(dt.Timestamp(timezone="UTC")))
        return col.cast(dt.timestamp)
    if kind == "json":
        return fn.json(col.cast(dt.string)) if not src.is_json() else col
    if kind == "tags":
        if src.is_map():
            return col.cast(dt.Map(dt.string, dt.string))
        text = col.cast(dt.string)
        # One JSON parse per row: a non-object (array, number) maps to NULL, which fails.
        return ibis.ifelse(
            text.isnull(),
            ibis.null(dt.Map(dt.string, dt.string)),
            fn.json_object_to_map(text).fill_null(
                _fail(fn, "object", col.get_name(), dt.Map(dt.string, dt.string))
            ),
        )
    return col.cast(dt.string)


def _empty_is_null(t: ir.Table, name: str, f: FocusFile, kind: str) -> ir.Column:
    """The source column, with an empty text as null where the CSV reader would make it so.

    DuckDB's CSV reader already reads "" as null (``CSV_NULLS``); a Parquet string column
    keeps "", which a typed column (number, time, JSON, tags) cannot hold and a required
    one must not count as a value. Other text columns keep "" as written.
    """
    col = t[name]
    typed = kind != "string" or name in REQUIRED_VALUES
    return col.nullif("") if f.fmt == "parquet" and typed and col.type().is_string() else col


_CSP_ALIASES = (
    ("aws", ("amazon", "aws")),
    ("microsoft", ("microsoft", "azure")),
    ("google", ("google", "gcp")),
    ("oracle", ("oracle", "oci")),
    ("alibaba", ("alibaba",)),
    ("ibm", ("ibm",)),
)


def _entity_key(col: ir.StringValue) -> ir.StringValue:
    """One key per cloud provider, so 'AWS' and 'Amazon Web Services, Inc.' compare equal.

    Substring tests for the long names and whole first words for the short ones ('aws',
    'oci'), which are cheaper than a regular expression per alias.
    """
    import ibis

    low = col.lower()
    first = low.re_replace(r"[^a-z0-9]+", " ").strip().split(" ")[0]
    cases = [
        (ibis.or_(*[low.contains(w) if len(w) > 4 else first == w for w in aliases]), key)
        for key, aliases in _CSP_ALIASES
    ]
    return ibis.cases(*cases, else_=low.strip())


def _legacy_providers(t: ir.Table) -> dict[str, ir.Value]:
    """ServiceProviderName / HostProviderName from FOCUS 1.0–1.2's ProviderName/PublisherName.

    Per the FOCUS 1.2→1.3 migration guidance: a direct purchase (publisher is the provider)
    maps both to the provider; a marketplace purchase (another publisher) makes the publisher
    the ServiceProviderName and the provider the HostProviderName.
    """
    import ibis

    provider = t["ProviderName"].cast("string") if "ProviderName" in t.columns else None
    publisher = t["PublisherName"].cast("string") if "PublisherName" in t.columns else None
    if provider is None and publisher is None:
        return {}
    if provider is None:
        return {"ServiceProviderName": publisher, "HostProviderName": publisher}
    if publisher is None:
        return {"ServiceProviderName": provider, "HostProviderName": provider}
    # Equal names (the common case) decide first; the alias comparison runs only on the rest.
    same = publisher.isnull() | provider.isnull() | (publisher == provider)
    return {
        "ServiceProviderName": ibis.cases(
            (same, provider.fill_null(publisher)),
            (_entity_key(publisher) == _entity_key(provider), provider),
            else_=publisher,
        ),
        "HostProviderName": provider,
    }


def _cost_and_usage_select(
    t: ir.Table,
    f: FocusFile,
    *,
    ingest_id: int,
    currency: str | None,
    extra_x: Sequence[str],
    fn: EngineFunctions,
) -> ir.Table:
    import ibis
    import ibis.expr.datatypes as dt

    present = set(f.columns)
    derived = {} if "ServiceProviderName" in present else _legacy_providers(t)
    out: dict[str, ir.Value] = {}
    for c in FOCUS_COLUMNS:
        target = _ibis_type(c.kind)
        if c.name in present:
            raw = _empty_is_null(t, c.name, f, c.kind)
            value = _as_kind(raw, c.kind, fn)
            if c.name == "BillingCurrency" and currency:
                value = value.fill_null(currency)
            elif c.name in REQUIRED_VALUES:
                # Test the source value: the converted one would be computed twice.
                value = ibis.ifelse(raw.isnull(), _fail(fn, "null", c.name, target), value)
            out[c.name] = value
        elif c.name in derived:
            out[c.name] = derived[c.name]
        elif c.name == "BillingCurrency" and currency:
            out[c.name] = ibis.literal(currency)
        # Columns the file lacks are left out: the INSERT names only the columns it fills,
        # and the table's default (NULL) fills the rest at no cost.
    for legacy in LEGACY_PROVIDER_COLUMNS:
        if legacy in present:
            out[f"x_{legacy}"] = t[legacy].cast(dt.string)
    for name, sql_type in X_TYPES.items():
        if name in present and name not in ("x_SourceId", "x_IngestId"):
            out[name] = t[name].cast(
                dt.Decimal(18, 6) if sql_type.startswith("DECIMAL") else dt.string
            )
    for name in extra_x:
        out[name] = t[name].cast(dt.string)
    out["x_SourceId"] = ibis.literal(f"focus:{f.path}")
    out["x_IngestId"] = ibis.literal(ingest_id, type=dt.int64)
    return t.select(**out)


def _contract_commitment_select(
    t: ir.Table, f: FocusFile, *, ingest_id: int, fn: EngineFunctions
) -> ir.Table:
    import ibis
    import ibis.expr.datatypes as dt

    out: dict[str, ir.Value] = {}
    for name in CONTRACT_COMMITMENT_COLUMNS:
        if name not in f.columns:
            out[name] = ibis.null(dt.string)
        elif name in _CC_DECIMALS:
            out[name] = _as_kind(_empty_is_null(t, name, f, "decimal"), "decimal", fn)
        elif name in _CC_TIMESTAMPS:
            out[name] = _as_kind(_empty_is_null(t, name, f, "timestamp"), "timestamp", fn)
        else:
            out[name] = t[name].cast(dt.string)
    out["x_SourceId"] = ibis.literal(f"focus:{f.path}")
    out["x_IngestId"] = ibis.literal(ingest_id, type=dt.int64)
    return t.select(**out)


# -- explaining a failed load ------------------------------------------------------------------
def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)]
        number = 0
        for record in reader:
            if not record:
                continue  # blank lines are not rows (DuckDB skips them too)
            number += 1
            yield number, dict(zip(header, record, strict=False))


def _first_row(f: FocusFile, column: str, bad: Callable[[Any], bool]) -> int | None:
    """The 1-based data row of the first value in ``column`` for which ``bad`` holds."""
    if f.fmt == "csv":
        for number, record in _csv_rows(f.path):
            if bad(record.get(column)):
                return number
        return None
    import pyarrow.parquet as pq

    values = pq.read_table(f.path, columns=[column]).column(0).to_pylist()
    for index, value in enumerate(values):
        if bad(value):
            return index + 1
    return None


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in CSV_NULLS)


def _not_object(value: Any) -> bool:
    if _is_null(value) or isinstance(value, dict):
        return False
    try:
        return not isinstance(json.loads(value), dict)
    except (TypeError, ValueError):
        return True


def _equals(text: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return value is not None and str(value) == text

    return check


def _currencies(f: FocusFile) -> list[str]:
    seen: set[str] = set()
    if f.fmt == "csv":
        for _, record in _csv_rows(f.path):
            value = record.get("BillingCurrency")
            if not _is_null(value):
                seen.add(str(value))
    return sorted(seen)


_CONVERT = re.compile(
    r'Could not convert string "(?P<value>.*?)" to (?P<type>[A-Z][A-Z ()0-9,]*)'
    r'|(?P<type2>timestamp|date) field[a-z ]*: "(?P<value2>.*?)"'
    # Spark (ANSI mode): [CAST_INVALID_INPUT] The value '12,50' of the type "STRING" cannot
    # be cast to "DECIMAL(38,12)"
    r"|The value '(?P<value3>.*?)' of the type \"STRING\" cannot be cast to \"(?P<type3>[A-Z_]+)"
)
_CAST_COLUMN = re.compile(r"source column (?P<column>\w+)")
# The value runs to the last quote of its line: DuckDB quotes the SQL after it on later lines.
_JSON_INPUT = re.compile(r'Malformed JSON[^\n]*?Input: "(?P<value>[^\n]*)"')


def _explain(exc: Exception, f: FocusFile) -> InvalidInput:
    """Turn a DuckDB error raised while loading ``f`` into one clear InvalidInput."""
    message = str(exc)
    marker = re.search(rf"{_MARKER}:(\w+):(\w+)", message)
    if marker:
        check, column = marker.groups()
        if check == "object":
            row = _first_row(f, column, _not_object)
            return BadValue(
                "is not a JSON object",
                file=f.path,
                row=row,
                column=column,
                fix=f"Write {column} as a JSON object such as "
                '{"team": "search"}, or leave it empty.',
            )
        row = _first_row(f, column, _is_null)
        if column == "BillingCurrency":
            seen = _currencies(f)
            mixed = f"the file has amounts in {', '.join(seen)}" if seen else "no row names one"
            return MissingCurrency(
                f"has no BillingCurrency, and {mixed}, "
                "so the currency of this row's amounts is unknown",
                file=f.path,
                row=row,
                column=column,
                fix="Fill BillingCurrency on every row, or pass --currency CODE if every amount "
                "in the file is in that one currency.",
            )
        return BadValue(
            "is empty, but mlcost needs a value here",
            file=f.path,
            row=row,
            column=column,
            fix=f"Fill {column} on every row (FOCUS makes it mandatory and non-null).",
        )
    convert = _CONVERT.search(message)
    if convert:
        value = next(v for v in convert.group("value", "value2", "value3") if v is not None)
        type_name = next(t for t in convert.group("type", "type2", "type3") if t).upper()
        named = _CAST_COLUMN.search(message)
        kind = "timestamp" if "TIME" in type_name else "number"
        candidates = (
            [named.group("column")]
            if named and named.group("column") in f.columns
            else [
                c.name
                for c in FOCUS_COLUMNS
                if c.name in f.columns and c.kind in ("decimal", "timestamp")
            ]
        )
        for column in candidates:
            row = _first_row(f, column, _equals(value))
            if row is not None:
                fix = (
                    "Write timestamps as RFC 3339 (2026-05-01T00:00:00Z) or 'YYYY-MM-DD HH:MM:SS'."
                    if kind == "timestamp"
                    else "Write amounts as plain decimal numbers (1234.56), without currency "
                    "symbols or thousands separators."
                )
                return BadValue(
                    f"{value!r} is not a valid {kind}", file=f.path, row=row, column=column, fix=fix
                )
        return BadValue(f"{value!r} is not a valid {kind}", file=f.path, fix=message)
    malformed = _JSON_INPUT.search(message)
    if malformed:
        value = malformed.group("value")
        for c in FOCUS_COLUMNS:
            if c.kind in ("json", "tags") and c.name in f.columns:
                row = _first_row(f, c.name, _equals(value))
                if row is not None:
                    return BadValue(
                        f"{value[:60]!r} is not valid JSON",
                        file=f.path,
                        row=row,
                        column=c.name,
                        fix=f"Write {c.name} as a JSON object, or leave it empty.",
                    )
    return InvalidInput(
        f"could not be loaded: {message.splitlines()[0]}",
        file=f.path,
        fix="Check that the file is a complete, well-formed FOCUS export.",
    )


# -- the ingest ----------------------------------------------------------------------------------
def ingest_focus(
    warehouse: Warehouse,
    paths: Iterable[str | Path] | str | Path,
    *,
    allow_missing: bool = False,
    currency: str | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Load FOCUS files into ``warehouse`` in one transaction and say what was loaded.

    ``allow_missing`` loads files that lack mandatory columns (the absent columns stay empty);
    ``currency`` supplies BillingCurrency where the file has none. Raises an
    :class:`~mlcost.errors.InvalidInput` naming file, row and column on bad input, after
    which the warehouse is unchanged. Two files with the same bytes (a copy in the folder)
    are loaded once, and the result's warnings say so.
    """
    found = gather(paths, SUFFIXES, WHAT, refuse=NotFocus)
    files = [inspect_file(p, allow_missing=allow_missing, currency=currency) for p in found.files]
    versions = tuple(sorted({f.version for f in files}))
    result = load_once(
        warehouse,
        NAME,
        found,
        lambda ingest_id: _write(warehouse, files, ingest_id, currency, progress),
        options={"currency": currency} if currency else None,
    )
    if result.already_loaded:
        return dataclasses.replace(result, focus_versions=versions)
    from mlcost.spending import total_by_currency

    return dataclasses.replace(
        result, effective_cost=total_by_currency(warehouse, ingest_id=result.ingest_id)
    )


def _ragged(f: FocusFile) -> InvalidInput:
    """The first CSV row whose field count is not the header's (a truncated or ragged file)."""
    import csv

    with f.path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        for row, fields in enumerate(reader, start=1):
            if len(fields) != len(header):
                return InvalidInput(
                    f"has {len(fields)} field(s) where the header has {len(header)} "
                    "(a truncated or ragged CSV)",
                    file=f.path,
                    row=row,
                    fix="Export the file again, or remove the broken row; every row needs one "
                    "value (possibly empty) per header column.",
                )
    return InvalidInput(
        "could not be read as one comma-separated table with its header",
        file=f.path,
        fix="Check the quoting and the delimiter (mlcost reads comma-separated FOCUS exports).",
    )


def _write(
    warehouse: Warehouse,
    files: Sequence[FocusFile],
    ingest_id: int,
    currency: str | None,
    progress: Progress | None,
) -> Written:
    """Insert every file's rows under ``ingest_id`` (inside :func:`load_once`'s transaction)."""
    written = Written(
        dataset=",".join(sorted({f.dataset for f in files})),
        focus_versions=tuple(sorted({f.version for f in files})),
    )
    total_bytes = sum(f.size for f in files) or 1
    done_bytes = 0
    fn = warehouse.functions
    for f in files:
        source = warehouse.read_files([f.path], f.fmt)
        if f.fmt == "csv" and not set(f.columns) <= set(source.columns):
            raise _ragged(f)  # DuckDB's sniffer gave up on the header: a broken row
        if f.dataset == COST_AND_USAGE:
            table = "cost_line_items"
            known = set(FOCUS_BY_NAME) | set(LEGACY_PROVIDER_COLUMNS) | set(X_TYPES)
            extra_x = [c for c in f.columns if c.startswith("x_") and c not in known]
            ignored = [c for c in f.columns if c not in known and not c.startswith("x_")]
            if ignored:
                written.warnings.append(
                    f"{f.path.name}: ignored column(s) {', '.join(ignored)} "
                    "(neither FOCUS nor x_-prefixed)"
                )
            warehouse.add_text_columns("cost_line_items", extra_x)
            expr = with_gpu_columns(
                warehouse,
                _cost_and_usage_select(
                    source, f, ingest_id=ingest_id, currency=currency, extra_x=extra_x, fn=fn
                ),
            )
        else:
            table = "contract_commitments"
            expr = _contract_commitment_select(source, f, ingest_id=ingest_id, fn=fn)

        def report(fraction: float, f: FocusFile = f, start: int = done_bytes) -> None:
            if progress is not None:
                progress((start + fraction * f.size) / total_bytes, f.path.name)

        try:
            warehouse.insert(table, expr, progress=report if progress else None)
        except warehouse.errors as exc:
            raise _explain(exc, f) from None
        done_bytes += f.size
    written.bills(warehouse, ingest_id)
    if any(f.dataset != COST_AND_USAGE for f in files):
        written.add(
            "contract_commitments",
            warehouse.count_rows("contract_commitments", ingest_id, "x_IngestId"),
        )
    written.warnings += _commitment_warnings(warehouse, ingest_id)
    return written


def _commitment_warnings(warehouse: Warehouse, ingest_id: int) -> list[str]:
    t = warehouse.table("cost_line_items")
    bad = t.filter(
        (t.x_IngestId == ingest_id)
        & (t.ChargeCategory == "Purchase")
        & t.CommitmentDiscountId.notnull()
        & (t.EffectiveCost != 0)
    ).count()
    n = int(bad.execute())
    if not n:
        return []
    return [
        f"{n} commitment purchase row(s) carry a non-zero EffectiveCost; FOCUS puts the "
        "amortized cost on the usage rows instead, so spend leaves these rows out of "
        "EffectiveCost to avoid counting the commitment twice"
    ]


ingest = ingest_focus
SOURCE = Source(
    NAME,
    DESCRIPTION,
    ("cost_line_items", "contract_commitments"),
    ingest,
    detect,
    stage=FOCUS_BILLS,
)
