"""The one table renderer of the CLI: tables that fit the terminal without cutting a number.

Each column has a kind, and the kind says how its cells are written and whether the column
may wrap:

- money: 2 decimals with thousands separators (the currency is a column or in the title);
  never wrapped, never cut.
- unit: a small unit cost (per 1,000 predictions, per hour): as many decimals as it takes for
  different values to read differently (at most 6), never ``0.00`` for a cost that is not 0.
- ratio: a fraction written as a percentage (``0.1454`` -> ``14.5%``).
- id: a long identifier (ARN, Azure resource id, URL) shortened from the front, keeping its
  distinguishing end: ``…/i-0abc123``; never cut in the middle.
- list: a ``", "``-joined list; more than one item reads as a count (``148 files``).
- numbers (detected): integers with thousands separators, other floats with 2 decimals
  (4 significant digits below 1).
- anything else is text, which wraps (folds) to share the width that is left.

``--wide`` (every command that prints a table has it) shows every column, every id in full
and every list item, at the table's natural width whatever the terminal's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

__all__ = [
    "TableSpec",
    "fit_widths",
    "format_cell",
    "is_wide",
    "print_table",
    "short_id",
    "top_rows",
    "wide_option",
]

# An id is shortened to this many characters (ARN ends such as "…/i-0b584686be8ca1e91b" fit).
ID_WIDTH = 24
# A text column is never squeezed below this many characters (or its own width, if less).
TEXT_MIN = 12
# A word (a name) longer than this may be folded when the table must shrink.
WORD_MAX = 24
_WIDE_KEY = "mlcost.wide"


def _set_wide(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_WIDE_KEY] = True


wide_option = click.option(
    "--wide",
    is_flag=True,
    expose_value=False,
    callback=_set_wide,
    help="Tables: every column, full ids and lists, however wide the terminal.",
)


def is_wide() -> bool:
    """Whether the running command was given ``--wide``."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_WIDE_KEY))


@dataclass(frozen=True)
class TableSpec:
    """The kind of each column of one table (see the module docstring)."""

    money: Sequence[str] = ()
    unit: Sequence[str] = ()
    ratio: Sequence[str] = ()
    ids: Sequence[str] = ()
    lists: Mapping[str, str] = field(default_factory=dict)  # column -> noun ("file")
    wide_only: Sequence[str] = ()  # shown only with --wide

    def rigid(self, column: str) -> bool:
        return column in self.money or column in self.unit or column in self.ratio


def short_id(value: str, width: int = ID_WIDTH) -> str:
    """``value`` if it fits ``width``, else its end: the trailing segments (each from a ``/``
    or ``:``) that fit after ``…``, or (one segment too long) its last ``width - 1``
    characters after ``…``. Never cut in the middle.

    >>> short_id("arn:aws:ec2:us-east-1:800072191555:instance/i-0b584686be8ca1e91b")
    '…/i-0b584686be8ca1e91b'
    >>> short_id("cc905dca-e1f2-4c7b-9d0a-2f6b3c1d8e7a", 16)
    '…0a-2f6b3c1d8e7a'
    """
    if len(value) <= width:
        return value
    cut = len(value)
    best = ""
    while True:
        cut = max(value.rfind("/", 0, cut), value.rfind(":", 0, cut))
        if cut < 0:
            break
        tail = value[cut:]  # from the separator on: "/i-0abc", ":bucket"
        if len(tail) + 1 > width:
            break
        if len(tail) > 1:
            best = tail
    if best:
        return f"…{best}"
    return "…" + value[-(width - 1) :]


def _decimals_to_differ(values: list[float]) -> int:
    """Decimals (2 to 6) at which the distinct values stay distinct and none that is not 0
    reads as 0."""
    distinct = {round(v, 9) for v in values}
    for d in range(2, 7):
        shown = {round(v, d) for v in distinct}
        if len(shown) == len(distinct) and all(round(v, d) != 0 for v in distinct if v):
            return d
    return 6


def _number(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if value and abs(value) < 1:
        return f"{value:.4g}"
    text = f"{value:,.2f}"  # 73.6978640253352 -> 73.70 -> 73.7; 80.00 -> 80
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_cell(value: Any, kind: str = "", decimals: int = 2) -> str:
    """One cell as a table shows it (``kind``: money, unit, ratio, or "" for the value's own)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind in ("money", "unit") and isinstance(value, Decimal | float | int):
        return f"{value:,.{decimals}f}"
    if kind == "ratio" and isinstance(value, Decimal | float | int):
        return f"{float(value):.1%}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal | float):
        return _number(float(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _summarize(text: str, noun: str) -> str:
    items = [t for t in text.split(", ") if t]
    if len(items) <= 1:
        return text
    return f"{len(items):,} {noun}s"


def fit_widths(
    natural: Sequence[int], minimum: Sequence[int], width: int, overhead: int
) -> list[int]:
    """Column content widths for a terminal ``width``: the natural ones if they fit; else the
    columns whose minimum is their natural width keep it, and the others (text, which wraps)
    share what is left, narrowest first, none below its minimum. The sum may exceed
    ``width`` when even the minimums do not fit: then the terminal wraps the lines, but no
    cell is cut. ``overhead``: the characters of borders and padding."""
    room = width - overhead
    if sum(natural) <= room:
        return list(natural)
    widths = list(minimum)
    flexible = sorted(
        (i for i, (n, m) in enumerate(zip(natural, minimum, strict=True)) if n > m),
        key=lambda i: natural[i],
    )
    left = room - sum(widths)
    for k, i in enumerate(flexible):
        share = max(0, left // (len(flexible) - k))
        grow = min(natural[i] - minimum[i], share)
        widths[i] += grow
        left -= grow
    return widths


def _header(column: str) -> str:
    return column.replace("_", " ")


def print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    spec: TableSpec,
    *,
    title: str | None = None,
    echo: Callable[[str], None] = click.echo,
) -> None:
    """Print ``rows`` as a rich table that fits the terminal (see the module docstring)."""
    from rich.console import Console
    from rich.table import Table

    wide = is_wide()
    # Ids by name too, so that every table shortens them (a column a command did not mark).
    spec = replace(spec, ids=[*spec.ids, *(c for c in columns if _id_like(c))])
    shown = [c for c in columns if wide or c not in spec.wide_only]
    hidden = [c for c in columns if c not in shown]
    decimals = {
        c: _decimals_to_differ([float(r[c]) for r in rows if r.get(c) is not None])
        for c in spec.unit
    }
    cells: list[list[str]] = []
    for r in rows:
        line = []
        for c in shown:
            kind = "money" if c in spec.money else "unit" if c in spec.unit else ""
            kind = "ratio" if c in spec.ratio else kind
            text = format_cell(r.get(c), kind, decimals.get(c, 2))
            if not wide and c in spec.ids:
                text = short_id(text)
            if not wide and c in spec.lists:
                text = _summarize(text, spec.lists[c])
            line.append(text)
        cells.append(line)
    headers = [_header(c) for c in shown]
    natural: list[int] = []
    minimum: list[int] = []
    rigid: list[bool] = []
    for j, c in enumerate(shown):
        column = [line[j] for line in cells]
        body = max((len(t) for t in column), default=0)
        head = _longest_word([headers[j]], 1 << 16)
        numeric = all(_is_number(r.get(c)) for r in rows) and any(
            r.get(c) is not None for r in rows
        )
        fixed = spec.rigid(c) or numeric or c in spec.ids or c in spec.lists
        rigid.append(fixed and (numeric or (c not in spec.ids and c not in spec.lists)))
        natural.append(max(body, len(headers[j]), 1))
        # Text wraps at spaces; a name (a cell of one word) is folded only past WORD_MAX
        # characters. A number's header wraps at its words; its cells never do.
        names = [t for t in column if " " not in t.strip()]
        word = max(head, _longest_word(names, WORD_MAX))
        minimum.append(max(body, head) if fixed else min(natural[-1], max(TEXT_MIN, word)))
    if sum(minimum) + len(shown) - 1 > _width_of_terminal():
        # Even without padding the names do not fit: they fold too, past TEXT_MIN.
        minimum = [
            m
            if rigid[j] or shown[j] in spec.ids or shown[j] in spec.lists
            else min(natural[j], max(TEXT_MIN, _longest_word([headers[j]], 1 << 16)))
            for j, m in enumerate(minimum)
        ]
    # Piped into a file or a CI log (no COLUMNS): 160, not the 80 rich would assume.
    console = Console(width=_width_of_terminal())
    # Borders and padding: boxed; then without the outer edge; then no padding (n - 1).
    n = len(shown)
    layouts = [(True, 1, 3 * n + 1), (False, 1, 3 * n - 3), (False, 0, n - 1)]
    fitting = [lay for lay in layouts if sum(minimum) + lay[2] <= console.width]
    edge, pad, overhead = layouts[0] if wide else (fitting or layouts[-1:])[0]
    widths = natural if wide else fit_widths(natural, minimum, console.width, overhead)
    total = sum(widths) + overhead
    if total > console.width:
        # Wider than the terminal (--wide, or columns that cannot shrink): never cut a cell.
        console = Console(width=total, soft_wrap=False)
    table = Table(title=title, show_edge=edge, pad_edge=edge, padding=(0, pad))
    for j in range(len(shown)):
        table.add_column(
            headers[j],
            justify="right" if rigid[j] else "left",
            width=widths[j],
            overflow="fold",
        )
    for line in cells:
        table.add_row(*line)
    console.print(table)
    if hidden:
        echo(f"({len(hidden)} more column(s) with --wide: {', '.join(hidden)}.)")


def _id_like(column: str) -> bool:
    """A column of ids by its name: ``resource_id``, ``ResourceId``, ``workload_id``."""
    return column.endswith(("_id", "Id"))


def _width_of_terminal() -> int:
    from rich.console import Console

    console = Console()
    return console.width if console.is_terminal or "COLUMNS" in os.environ else 160


def _longest_word(texts: Sequence[str], cap: int) -> int:
    return min(cap, max((len(w) for t in texts for w in t.split()), default=1))


def _is_number(value: Any) -> bool:
    return value is None or (
        isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    )


def top_rows(
    rows: list[dict[str, Any]],
    key: str,
    *,
    top: int | None,
    minimum: float | None,
    noun: str,
    currency: str,
) -> tuple[list[dict[str, Any]], str | None]:
    """The rows ``--top N`` and ``--min AMOUNT`` keep, largest ``key`` first, and a line
    saying what was left out and what it adds up to, per currency (``currency``: the code, or
    the column that holds it); ``rows`` as given and None when neither option is set."""
    if top is None and minimum is None:
        return rows, None
    kept = sorted(rows, key=lambda r: float(r.get(key) or 0), reverse=True)
    if minimum is not None:
        kept = [r for r in kept if r.get(key) is not None and float(r[key]) >= minimum]
    if top is not None:
        kept = kept[:top]
    if len(kept) == len(rows):
        return kept, None
    ids = {id(r) for r in kept}
    rest = [r for r in rows if id(r) not in ids]
    totals: dict[str, float] = {}
    for r in rest:
        code = str(r.get(currency) or "") if currency in r else currency
        totals[code] = totals.get(code, 0.0) + float(r[key] or 0)
    money = " + ".join(f"{v:,.2f} {c}".rstrip() for c, v in sorted(totals.items()))
    return kept, (
        f"Showing {len(kept):,} of {len(rows):,} {noun}s; the other {len(rest):,} add up to "
        f"{money} ({key})."
    )
