"""Native billing exports → FOCUS rows: the engine the four provider modules share.

A provider module declares a :class:`NativeFormat`: how to recognize its columns, how to
normalize their names, and one Ibis expression per FOCUS column built from them (following
the FinOps Foundation's focus_converters mappings and the providers' own FOCUS exports).
This module reads the files through DuckDB, casts each FOCUS column to its FOCUS type, loads
everything in one transaction tagged ``x_SourceId = "<source>:<file>"``, replaces restated
billing periods as FOCUS ingest does, and fills ``x_InstanceType`` / ``x_GpuModel`` /
``x_GpuCount`` from the catalog.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import BadValue, InvalidInput, MissingColumn
from mlcost.sources._common import (
    LoadResult,
    Written,
    file_format,
    gather,
    load_once,
    open_text,
    read_columns,
    sniff_columns,
    with_gpu_columns,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

Columns = Callable[[str], "ir.Value | None"]


@dataclass(frozen=True)
class NativeFormat:
    """One provider's native export: recognition, column names, and the FOCUS mapping."""

    name: str
    provider: str  # ServiceProviderName / HostProviderName / InvoiceIssuerName default
    required: tuple[str, ...]  # normalized column names that must be present
    normalize: Callable[[str], str]
    mapping: Callable[[Columns, Any], dict[str, Any]]  # (column getter, table) → FOCUS values
    suffixes: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")


def snake(name: str) -> str:
    """``lineItem/UnblendedCost`` → ``line_item_unblended_cost`` (the CUR 2.0 spelling)."""
    parts = re.split(r"[/.:]", name.strip())
    out = []
    for part in parts:
        part = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", part)
        out.append(re.sub(r"[^a-z0-9_]+", "_", part.lower()).strip("_"))
    return "_".join(p for p in out if p)


def lower(name: str) -> str:
    return name.strip().lower()


def header(path: Path) -> list[str]:
    """Column names of a CSV, Parquet or newline-JSON file, reading only its start."""
    return list(read_columns(path))


def matches(fmt: NativeFormat, path: Path) -> bool:
    names = {fmt.normalize(c) for c in sniff_columns(path, fmt.suffixes)}
    return bool(names) and set(fmt.required) <= names


def _getter(t: Any, fmt: NativeFormat) -> Columns:
    by_norm: dict[str, str] = {}
    for c in t.columns:
        by_norm.setdefault(fmt.normalize(c), c)

    def col(name: str) -> Any:
        if name in by_norm:
            return t[by_norm[name]]
        # Newline JSON keeps nested records: service.description is a struct field.
        head, _, rest = name.partition(".")
        if rest and head in by_norm:
            value = t[by_norm[head]]
            for part in rest.split("."):
                if not value.type().is_struct() or part not in value.type().names:
                    return None
                value = value[part]
            return value
        return None

    return col


def _select(t: Any, fmt: NativeFormat, path: Path, ingest_id: int, fn: Any) -> Any:
    import ibis
    import ibis.expr.datatypes as dt

    from mlcost.sources.focus import _as_kind, _ibis_type
    from mlcost.warehouse import FOCUS_COLUMNS

    values = fmt.mapping(_getter(t, fmt), t)
    out: dict[str, Any] = {}
    for c in FOCUS_COLUMNS:
        value = values.get(c.name)
        out[c.name] = (
            ibis.null(_ibis_type(c.kind)) if value is None else _as_kind(value, c.kind, fn)
        )
    for name, kind in (("x_InstanceType", dt.string), ("x_GpuModel", dt.string)):
        value = values.get(name)
        out[name] = ibis.null(kind) if value is None else value.cast(kind)
    out["x_GpuCount"] = ibis.null(dt.Decimal(18, 6))
    out["x_SourceId"] = ibis.literal(f"{fmt.name}:{path}")
    out["x_IngestId"] = ibis.literal(ingest_id, type=dt.int64)
    return t.select(**out)


_VALUE = re.compile(r'(?:string|"|timestamp field[a-z ]*: )"?(?P<value>[^"]*)"')


def _explain(exc: Exception, path: Path) -> InvalidInput:
    """Name the file, row and column of the value DuckDB could not convert."""
    message = str(exc)
    found = re.search(r'Could not convert string "(.*?)"|: "(.*?)"', message)
    value = next((g for g in found.groups() if g is not None), None) if found else None
    if value is not None and file_format(path) == "csv":
        with open_text(path) as fh:
            reader = csv.reader(fh)
            names = [h.strip() for h in next(reader)]
            for number, record in enumerate(reader, start=1):
                for name, cell in zip(names, record, strict=False):
                    if cell == value:
                        return BadValue(
                            f"{value!r} is not a valid number or timestamp",
                            file=path,
                            row=number,
                            column=name,
                            fix="Keep the export as the provider wrote it.",
                        )
    return InvalidInput(
        f"could not be loaded: {message.splitlines()[0]}",
        file=path,
        fix="Check that the file is a complete export of this format.",
    )


def ingest_native(
    warehouse: Warehouse, fmt: NativeFormat, paths: Iterable[str | Path] | str | Path
) -> LoadResult:
    """Load native billing files of one format as FOCUS rows, in one transaction."""
    found = gather(paths, fmt.suffixes, f"{fmt.name} export files")
    files = found.files
    for f in files:
        names = {fmt.normalize(c) for c in header(f)}
        missing = [c for c in fmt.required if c not in names]
        if missing:
            raise MissingColumn(
                f"is not a {fmt.name} export: it lacks {', '.join(missing)}",
                file=f,
                column=missing[0],
                fix="Check the export type, or let `mlcost ingest auto FILE` pick the source.",
            )

    def write(ingest_id: int) -> Written:
        written = Written()
        for f in files:
            t = _read(warehouse, f)
            try:
                expr = with_gpu_columns(
                    warehouse, _select(t, fmt, f, ingest_id, warehouse.functions)
                )
                warehouse.insert("cost_line_items", expr)
            except warehouse.errors as exc:
                raise _explain(exc, f) from None
        written.bills(warehouse, ingest_id)
        items = warehouse.table("cost_line_items")
        mine = items.filter((items.x_IngestId == ingest_id) & items.x_GpuModel.notnull())
        gpu_rows = int(mine.count().to_pyarrow().as_py())
        if gpu_rows:
            written.warnings.append(f"{gpu_rows:,} row(s) priced GPU instances")
        return written

    return load_once(warehouse, fmt.name, found, write)


def _read(warehouse: Warehouse, path: Path) -> Any:
    fmt = file_format(path)
    if fmt == "json":
        return warehouse.ibis.read_json(str(path))
    return warehouse.read_files([path], fmt)


# -- small expression helpers the mappings share ---------------------------------------------------
def text(value: Any) -> Any:
    return None if value is None else value.cast("string")


def first(*values: Any) -> Any:
    """The first present column (alternative spellings across export versions)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    import ibis

    return ibis.coalesce(*[v.cast("string") for v in present]) if len(present) > 1 else present[0]


def lit(value: str) -> Any:
    import ibis

    return ibis.literal(value)


# Money arithmetic keeps its 12 decimals on every engine: Spark cuts a result wider than 38
# digits to max(6, 38 - integer digits) decimals (spark.sql.decimalOperations.
# allowPrecisionLoss), so DECIMAL(38, 12) + DECIMAL(38, 12) kept 11 and a product of two 6.
# Operands are narrowed first (amounts of up to 10^18, prices and quantities of up to 10^12);
# the result is cast to DECIMAL(38, 12), rounding half up as DuckDB does.
def plus(*values: Any) -> Any:
    """The sum of money columns, exact to 12 decimals on DuckDB and on Spark."""
    import ibis.expr.datatypes as dt

    total = values[0].cast(dt.Decimal(30, 12))
    for value in values[1:]:
        total = total + value.cast(dt.Decimal(30, 12))
    return total.cast(dt.Decimal(38, 12))


def times(price: Any, quantity: Any) -> Any:
    """``price × quantity``, exact to 12 decimals on DuckDB and on Spark."""
    import ibis.expr.datatypes as dt

    product = price.cast(dt.Decimal(24, 12)) * quantity.cast(dt.Decimal(24, 12))
    return product.cast(dt.Decimal(38, 12))


def cases(value: Any, mapping: Sequence[tuple[str, str]], default: str | None = None) -> Any:
    """Map values case-insensitively (``mapping``: source value → FOCUS value)."""
    if value is None:
        return lit(default) if default is not None else None
    import ibis

    low = value.cast("string").lower()
    return ibis.cases(
        *[(low == k.lower(), v) for k, v in mapping],
        else_=ibis.literal(default) if default is not None else ibis.null("string"),
    )


def entry_points(
    fmt: NativeFormat,
) -> tuple[Callable[[Path], bool], Callable[..., LoadResult]]:
    """The registry's ``detect`` and ``ingest`` for a native format."""

    def detect(path: Path) -> bool:
        return matches(fmt, path)

    def ingest(warehouse: Warehouse, paths: Iterable[str | Path] | str | Path) -> LoadResult:
        return ingest_native(warehouse, fmt, paths)

    detect.__doc__ = f"True when ``path`` is a {fmt.name} export."
    ingest.__doc__ = f"Load {fmt.name} files as FOCUS rows in one transaction."
    return detect, ingest


def columns_as_map(t: Any, columns: Sequence[str], keys: Sequence[str]) -> Any:
    """One tag per column (``resourceTags/user:team``, ``tags/ns.key``), empty ones left out."""
    import ibis

    return ibis.map(
        ibis.array(
            [
                ibis.ifelse(t[c].isnull(), ibis.null("string"), ibis.literal(k))
                for c, k in zip(columns, keys, strict=True)
            ]
        ).filter(lambda x: x.notnull()),
        ibis.array([t[c].cast("string") for c in columns]).filter(lambda x: x.notnull()),
    )
