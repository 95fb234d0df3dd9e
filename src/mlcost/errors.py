"""The one exception tree of mlcost.

Every error mlcost raises on purpose is an :class:`MlcostError`. Leaves also inherit the
builtin they resemble, so ``except ValueError`` in a caller's code still works::

    MlcostError
    ├── CacheError(RuntimeError)           a cache backend cannot be reached or read
    ├── ConfigError(ValueError)            a setting or config file is wrong
    ├── InvalidInput(ValueError)           a file the user gave us is wrong; names file/row/column
    │   ├── MissingColumn                  a mandatory column is absent
    │   ├── NotFocus                       the file is not a FOCUS export at all
    │   ├── BadValue                       a value does not parse (number, timestamp, JSON)
    │   └── MissingCurrency                amounts whose currency cannot be known
    ├── WarehouseError(RuntimeError)       the warehouse cannot be opened or written
    │   ├── UnsupportedWarehouse(ValueError)   a URL scheme we cannot serve
    │   ├── WarehouseLocked                another process holds the file
    │   └── WarehouseTooNew                written by a newer mlcost than this one
    ├── RemoteSourceError(OSError)         a bucket or container cannot be listed or read;
    │   │                                  carries ``provider`` (S3, Azure Storage)
    │   └── RemoteCredentials(PermissionError)  no credential, or one the store refused
    └── NotFound(LookupError)              a name that does not exist (column, source, ...)
        ├── UnknownName                    a GPU, instance, model or region we do not know;
        │                                  carries ``suggestions`` (nearest valid names)
        └── NoFit                          nothing in the catalog satisfies a plan
    RunStopped(MlcostError, RuntimeError)  the tracker stopped a run on purpose; carries
    │                                      ``reason`` and ``saving`` (money not spent)
    ├── BudgetExceeded                     ``max_cost`` or ``max_hours`` was reached
    └── NotWorthIt                         improvement per dollar fell under the threshold

Each error's message says what happened, how to fix it, and, where there is one, what to run.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

__all__ = [
    "BadValue",
    "BudgetExceeded",
    "CacheError",
    "ConfigError",
    "InvalidInput",
    "MissingColumn",
    "MissingCurrency",
    "MlcostError",
    "NoFit",
    "NotFocus",
    "NotFound",
    "NotWorthIt",
    "RemoteCredentials",
    "RemoteSourceError",
    "RunStopped",
    "UnknownName",
    "UnsupportedWarehouse",
    "WarehouseError",
    "WarehouseLocked",
    "WarehouseTooNew",
]


class MlcostError(Exception):
    """Base of every error mlcost raises on purpose."""


class CacheError(MlcostError, RuntimeError):
    """A cache backend (SQLite file, Redis server) cannot be reached, read or written."""


class ConfigError(MlcostError, ValueError):
    """A setting, environment variable or config file is invalid."""


class InvalidInput(MlcostError, ValueError):
    """A user-supplied file is wrong. ``file``, ``row`` (1-based data row) and ``column`` say where.

    ``row`` counts data rows: row 1 is the first row after a CSV header, or the first row of a
    Parquet file.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = f"{', '.join(where)}: {self.problem}" if where else self.problem
        if self.fix:
            text += f"\nHow to fix: {self.fix}"
        return text


class MissingColumn(InvalidInput):
    """A column the format makes mandatory is not in the file."""


class NotFocus(InvalidInput):
    """The file is not a FOCUS Cost and Usage export (of a version mlcost reads)."""


class BadValue(InvalidInput):
    """A value cannot be parsed as the column's type."""


class MissingCurrency(InvalidInput):
    """Amounts whose currency cannot be determined."""


class RemoteSourceError(MlcostError, OSError):
    """A bill's object store (an S3 bucket, an Azure Storage container) cannot be listed or
    read. ``provider`` names the store; the message never holds a credential."""

    def __init__(self, message: str, *, provider: str) -> None:
        self.provider = provider
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class RemoteCredentials(RemoteSourceError, PermissionError):
    """No credential was found in the provider's standard chain, or the store refused it."""


class NotFound(MlcostError, LookupError):
    """A named thing (column, dimension, source, table) does not exist."""


class WarehouseError(MlcostError, RuntimeError):
    """The warehouse cannot be opened, migrated or written."""


class UnsupportedWarehouse(WarehouseError, ValueError):
    """The warehouse URL names an engine this version of mlcost cannot serve."""


class WarehouseLocked(WarehouseError):
    """Another process has the warehouse file open for writing."""


class WarehouseTooNew(WarehouseError):
    """The warehouse was written by a newer version of mlcost."""


class UnknownName(NotFound):
    """A GPU, instance type, model preset or region that mlcost does not know.

    ``suggestions`` holds the nearest valid names (difflib), best first; the message names
    them and the command that lists every valid name.
    """

    def __init__(
        self, kind: str, name: str, suggestions: list[str], *, see: str | None = None
    ) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions)
        text = f"Unknown {kind} {name!r}."
        if self.suggestions:
            text += " Did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        if see:
            text += f" See: {see}"
        super().__init__(text)


class NoFit(NotFound):
    """No offer in the catalog satisfies the request (memory, GPU count, filters)."""


class RunStopped(MlcostError, RuntimeError):
    """The tracker stopped a run on purpose (budget reached, training no longer worth its cost).

    Raised by ``Run.step()`` inside the training loop; the ``with mlcost.track(...)`` block
    catches it, so the loop ends cleanly and the code after the block runs. ``saving`` is the
    money the stop kept from being spent (a ``Decimal`` in ``currency``), or None when unknown.
    """

    def __init__(self, reason: str, *, saving: Decimal | None = None, currency: str = "USD"):
        self.reason = reason
        self.saving = saving
        self.currency = currency
        text = reason
        if saving is not None:
            text += f" Stopping saved {saving:.2f} {currency}."
        super().__init__(text)


class BudgetExceeded(RunStopped):
    """``max_cost`` or ``max_hours`` of a tracked run was reached."""


class NotWorthIt(RunStopped):
    """The validation metric improved less per dollar than the threshold, ``patience`` times."""
