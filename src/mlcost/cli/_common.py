"""What every command shares: opening the warehouse and rendering results."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlcost.config import Settings
    from mlcost.warehouse import Warehouse, WarehouseTarget

FORMATS = ("table", "csv", "json")
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for people, csv or json for scripts.",
)


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


def _cell(value: Any, money: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal | float) and money:
        return f"{value:,.2f}"
    return str(_plain(value))


def render_rows(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    *,
    title: str | None = None,
    money_columns: Sequence[str] = (),
    echo: Callable[[str], None] = click.echo,
) -> None:
    """Print rows as a rich table, CSV or a JSON list of objects."""
    if fmt == "json":
        echo(json.dumps([{c: _plain(r[c]) for c in columns} for r in rows], indent=2))
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r[c] is None else _plain(r[c]) for c in columns])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c in money_columns else "left")
    for r in rows:
        table.add_row(*(_cell(r[c], c in money_columns) for c in columns))
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file or a CI log: rich would assume 80 columns and cut the amounts.
        console = Console(width=160)
    console.print(table)
