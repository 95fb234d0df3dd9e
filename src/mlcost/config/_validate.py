"""Validators every section shares: tables, strings, numbers, dates; errors name the file."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from mlcost.errors import ConfigError


def _doc(name: str) -> str:
    guard = ("budgets", "notify", "policies", "owners", "watch")
    return "budgets.md" if name.startswith(guard) else "attribution.md"


def _did_you_mean(names: Iterable[str], known: Iterable[str]) -> str:
    """`` Did you mean policies?``: the nearest known name of each misspelled one, or ''."""
    known = sorted(known)
    hints = []
    for name in sorted(names):
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            hints.append(close[0])
    return f" Did you mean {' / '.join(hints)}?" if hints else ""


def _table(value: object, where: str, name: str, known: frozenset[str] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table, got {value!r}.")
    if known is not None:
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)} in [{name}]."
                f"{_did_you_mean(unknown, known)} Known: {', '.join(sorted(known))}. "
                f"See docs/{_doc(name)}."
            )
    return dict(value)


def _strings(value: object, where: str, name: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{where}: {name} must be a string or a list of strings, got {value!r}.")
    return tuple(items)


def _string_map(value: object, where: str, name: str) -> dict[str, str]:
    table = _table(value, where, name, None)
    for k, v in table.items():
        if not isinstance(v, str):
            raise ConfigError(f"{where}: {name}.{k} must be a string, got {v!r}.")
    return table


def _number(value: object, where: str, name: str, *, low: float = 0.0) -> float:
    # TOML has nan and inf: neither is a count, a duration or a share of a budget.
    if isinstance(value, bool) or not isinstance(value, int | float):
        number = math.nan
    else:
        number = float(value)
    if not math.isfinite(number) or number < low:
        raise ConfigError(f"{where}: {name} must be a number >= {low:g}, got {value!r}.")
    return number


def _fractions(value: object, where: str, name: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {name} must be a list such as [0.75, 0.9, 1.0].")
    out = tuple(_number(v, where, name) for v in value)
    if len(out) > 10:  # AWS Budgets' limit per budget, kept so alerts stay meaningful
        raise ConfigError(f"{where}: {name} has {len(out)} thresholds; 10 at most.")
    return tuple(sorted(set(out)))


def _iso_date(value: object, where: str, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {name} must be an ISO date such as 2026-03-01.") from exc


def _beside(path: str, where: str) -> str:
    # A relative file channel path is relative to the config file that names it.
    if not path or Path(path).expanduser().is_absolute() or not where.endswith(".toml"):
        return path
    return str(Path(where).parent / path)
