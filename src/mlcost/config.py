"""Settings: one typed object, and the documented order in which it is assembled.

Precedence, lowest first: built-in defaults < user config file
(``$XDG_CONFIG_HOME/mlcost/config.toml``) < project ``mlcost.toml`` (the current directory or
the nearest parent that has one) < ``MLCOST_*`` environment variables < explicit arguments
(``--warehouse`` on the command line).

Example::

    >>> from mlcost.config import load_settings
    >>> load_settings(warehouse="duckdb:///tmp/example.duckdb", env={}).warehouse
    'duckdb:///tmp/example.duckdb'
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlcost.errors import ConfigError

__all__ = ["Settings", "data_dir", "default_warehouse_url", "load_settings"]

PROJECT_FILE = "mlcost.toml"
_KNOWN_KEYS = frozenset({"warehouse", "memory_limit"})
# DuckDB's own default is 80% of RAM; a cap keeps a 10-million-row ingest under 2 GiB, and
# DuckDB spills to disk rather than fail when a query needs more (docs/benchmarks.md).
DEFAULT_MEMORY_LIMIT = "1GB"


@dataclass(frozen=True)
class Settings:
    """What mlcost needs to know before it does anything.

    ``warehouse`` is a URL (``duckdb:///abs/path.duckdb``) or a plain path to a DuckDB file.
    ``memory_limit`` caps the embedded engine's memory (DuckDB syntax: ``"1GB"``, ``"512MB"``).
    ``sources`` says, per setting, where its value came from, for ``mlcost config`` output
    and error messages.
    """

    warehouse: str
    sources: Mapping[str, str]
    memory_limit: str = DEFAULT_MEMORY_LIMIT


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """mlcost's XDG data folder: ``$XDG_DATA_HOME/mlcost`` (``~/.local/share/mlcost``)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME", "~")).expanduser()
    return Path(env.get("XDG_DATA_HOME") or home / ".local/share") / "mlcost"


def default_warehouse_url(env: Mapping[str, str]) -> str:
    """The XDG data-dir default: ``$XDG_DATA_HOME/mlcost/warehouse.duckdb``."""
    return f"duckdb://{data_dir(env) / 'warehouse.duckdb'}"


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). Fix the file or remove it.") from exc
    section = data.get("mlcost", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [mlcost] must be a table of settings.")
    unknown = sorted(set(section) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(_KNOWN_KEYS))}."
        )
    for key, value in section.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: setting {key!r} must be a string, got {value!r}.")
    return dict(section)


def _find_project_file(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    *,
    warehouse: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Assemble :class:`Settings` from defaults, files, environment and arguments."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    values: dict[str, str] = {
        "warehouse": default_warehouse_url(env),
        "memory_limit": DEFAULT_MEMORY_LIMIT,
    }
    origin: dict[str, str] = {"warehouse": "default", "memory_limit": "default"}

    config_home = env.get("XDG_CONFIG_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".config"
    )
    layers: list[tuple[str, Path | None]] = [
        ("user config", Path(config_home) / "mlcost" / "config.toml"),
        ("project", _find_project_file(cwd)),
    ]
    for label, path in layers:
        if path is not None and path.is_file():
            for key, value in _read_toml(path).items():
                values[key] = str(value)
                origin[key] = f"{label} {path}"
    for key in sorted(_KNOWN_KEYS):
        name = f"MLCOST_{key.upper()}"
        if env.get(name):
            values[key] = env[name]
            origin[key] = f"environment {name}"
    if warehouse:
        values["warehouse"] = warehouse
        origin["warehouse"] = "argument"
    return Settings(
        warehouse=values["warehouse"], sources=origin, memory_limit=values["memory_limit"]
    )
