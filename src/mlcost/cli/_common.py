"""What every command shares: opening the warehouse and rendering results."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mlcost.cli._table import TableSpec, print_table, wide_option

if TYPE_CHECKING:
    from mlcost.config import Settings
    from mlcost.warehouse import Warehouse, WarehouseTarget

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "csv", "json")
_format = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for people, csv or json for scripts.",
)


def format_option(f: F) -> F:
    """``--format table|csv|json`` (passed as ``fmt``) and ``--wide`` (read by the table)."""
    return _format(wide_option(f))


def settings_from(ctx: click.Context) -> Settings:
    """The settings, with --warehouse from the root command applied."""
    from mlcost.config import load_settings

    root = ctx.find_root()
    return load_settings(warehouse=(root.obj or {}).get("warehouse"))


def target_from(ctx: click.Context) -> WarehouseTarget:
    """The warehouse chosen by --warehouse / MLCOST_WAREHOUSE / mlcost.toml / default,
    parsed once per command (kept on the root context) and passed on as the object."""
    from mlcost.warehouse import target_of

    root = ctx.find_root()
    root.ensure_object(dict)
    if "target" not in root.obj:
        root.obj["target"] = target_of(settings_from(ctx))
    target: WarehouseTarget = root.obj["target"]
    return target


@contextmanager
def warehouse_from(
    ctx: click.Context, *, read_only: bool = False, create: bool = True
) -> Iterator[Warehouse]:
    """Open the warehouse of :func:`target_from`. ``create=False``: a command that only reads
    what was loaded (and may write beside it) never creates a missing DuckDB file; it is opened
    read-only, which says there is no warehouse and how to load one (exit 2)."""
    from pathlib import Path

    from mlcost.warehouse import DuckDBTarget, open_warehouse

    target = target_from(ctx)
    if not create and isinstance(target, DuckDBTarget) and target.path != ":memory:":
        read_only = read_only or not Path(target.path).expanduser().exists()
    wh = open_warehouse(target, read_only=read_only)
    try:
        yield wh
    finally:
        wh.close()


def _plain(value: Any) -> Any:
    """A JSON-ready builtin for a value read from Arrow."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):  # Arrow map columns arrive as [(key, value), ...]
        return dict(value) if value and isinstance(value[0], tuple) else value
    return value


def render_rows(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    *,
    title: str | None = None,
    money_columns: Sequence[str] = (),
    unit_columns: Sequence[str] = (),
    ratio_columns: Sequence[str] = (),
    id_columns: Sequence[str] = (),
    list_columns: Mapping[str, str] | None = None,
    wide_columns: Sequence[str] = (),
    echo: Callable[[str], None] = click.echo,
) -> None:
    """Print rows as a table that fits the terminal (:mod:`mlcost.cli._table`: each kind of
    column is written its own way; ``wide_columns`` only with ``--wide``), CSV or a JSON list
    of objects (every column, values as they are)."""
    if fmt == "json":
        echo(json.dumps([{c: _plain(r[c]) for c in columns} for r in rows], indent=2))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r[c] is None else _plain(r[c]) for c in columns])
        return
    print_table(
        rows,
        columns,
        TableSpec(
            money=money_columns,
            unit=unit_columns,
            ratio=ratio_columns,
            ids=id_columns,
            lists=list_columns or {},
            wide_only=wide_columns,
        ),
        title=title,
        echo=echo,
    )
