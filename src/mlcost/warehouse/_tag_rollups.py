"""Daily rollups by tags, built on demand for a read-only DuckDB open (the server's).

The server asks many distinct questions by a tag (team, env); reading every line item's tag
map for each costs several times a question on the daily rollup. On a read-only open, whose
data cannot change under it, the rollup's SELECT is run once per set of tag dimensions with
their values as more columns (``t0``, ``t1``, …) into an in-memory database attached to the
open: shared by its cursors, detached when it closes. One that would not be much smaller than
the line items (a tag with a value per resource) is not kept; nor more than ``KEPT`` sets.

DuckDB shares one database instance among a process's opens of a file: while one is open, the
next sees what it attached (the server opens the file anew while the last open's requests
finish, docs/server.md). So each open attaches a database of its own name, and detaches it.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mlcost.warehouse._schema import ROLLUP_TABLE, rollup_select

__all__ = ["TAG_PREFIX", "TagRollups"]

_log = logging.getLogger(__name__)
TAG_PREFIX = "tag:"  # a tag dimension of spend: tag:<key>, or tag:<key>|<key> (spellings)
DATABASE = "mlcost_tag_rollups"  # the in-memory databases attached to the opens: DATABASE_<n>
_SERIAL = itertools.count(1)  # n: one per open in the process
KEPT = 16  # tag rollups kept per open (the least recently used goes)
SHRINK = 4  # kept only when it has at most a quarter as many rows as line items


def tag_value(dimension: str) -> str:
    """SQL for a tag dimension's value: the first of its spellings a row's Tags has (what
    spend's ``Tags.get`` compiles to), each key a quoted literal."""
    keys = [k.strip() for k in dimension[len(TAG_PREFIX) :].split("|")]
    quoted = ["'" + k.replace("'", "''") + "'" for k in keys]
    values = [f'element_at("Tags", {k})[1]' for k in quoted]
    return values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"


class TagRollups:
    """The tag rollups of one read-only open: tag dimensions → table (None: not kept)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: OrderedDict[tuple[str, ...], str | None] = OrderedDict()
        self._building: dict[tuple[str, ...], threading.Lock] = {}
        self.database = f"{DATABASE}_{next(_SERIAL)}"
        self._made = 0

    def detach(self, sql: Callable[[str], Any]) -> None:
        """Drop the rollups with their database (when the open that owns them closes: the
        DuckDB instance, and what is attached to it, can outlive the open)."""
        with self._lock:
            if self._made:
                sql(f"DETACH DATABASE IF EXISTS {self.database}")
            self._tables.clear()
            self._made = 0

    def table(self, sql: Callable[[str], Any], tags: tuple[str, ...]) -> str | None:
        """The rollup by ``tags`` (sorted tag dimensions), built with ``sql`` (a statement
        runner of the open or one of its cursors) the first time; None where none is kept."""
        import duckdb

        with self._lock:
            if tags in self._tables:
                self._tables.move_to_end(tags)
                return self._tables[tags]
            gate = self._building.setdefault(tags, threading.Lock())
        with gate:  # built once: the other requests that need it wait for it
            with self._lock:
                if tags in self._tables:
                    return self._tables[tags]
                if not self._made:
                    sql(f"ATTACH ':memory:' AS {self.database} (READ_WRITE)")
                self._made += 1
                name = f"{self.database}.r{self._made}"
            extra = [f"{tag_value(d)} AS t{n}" for n, d in enumerate(tags)]
            kept: str | None = name
            try:
                sql(f"CREATE TABLE {name} AS {rollup_select(extra=extra)}")
                rows = sql(f"SELECT count(*) FROM {name}")[0][0]
                lines = sql(f"SELECT sum(x_Rows) FROM {ROLLUP_TABLE}")[0][0] or 0
                if rows * SHRINK > lines:
                    kept = None
            except duckdb.Error as exc:  # out of memory, say: the line items answer instead
                _log.warning("no daily rollup by %s (%s); read from the line items", tags, exc)
                kept = None
            if kept is None:
                sql(f"DROP TABLE IF EXISTS {name}")
            with self._lock:
                self._tables[tags] = kept
                self._building.pop(tags, None)
                while len(self._tables) > KEPT:
                    _, old = self._tables.popitem(last=False)
                    if old is not None:
                        sql(f"DROP TABLE IF EXISTS {old}")
            return kept
