"""Settings: one typed object, and the documented order in which it is assembled.

Precedence, lowest first: built-in defaults < user config file
(``$XDG_CONFIG_HOME/mlcost/config.toml``) < project ``mlcost.toml`` (the current directory or
the nearest parent that has one) < ``MLCOST_*`` environment variables < explicit arguments
(``--warehouse`` on the command line).

The ``[attribution]`` table (tag aliases, value normalization, tag policy, account owners and
shared-cost rules, see docs/attribution.md) is read from the same files; a project file's table
replaces the user file's as a whole.

Example::

    >>> from mlcost.config import load_settings
    >>> load_settings(warehouse="duckdb:///tmp/example.duckdb", env={}).warehouse
    'duckdb:///tmp/example.duckdb'
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcost.errors import ConfigError

__all__ = [
    "AttributionConfig",
    "Settings",
    "SharedRule",
    "data_dir",
    "default_warehouse_url",
    "load_settings",
    "parse_attribution",
    "spark_url",
]

PROJECT_FILE = "mlcost.toml"
_KNOWN_KEYS = frozenset({"warehouse", "memory_limit"})
# DuckDB's own default is 80% of RAM; a cap keeps a 10-million-row ingest under 2 GiB, and
# DuckDB spills to disk rather than fail when a query needs more (docs/benchmarks.md).
DEFAULT_MEMORY_LIMIT = "1GB"
DEFAULT_REQUIRED_TAGS = ("project", "team", "model", "env")
SHARED_METHODS = ("proportional", "even", "fixed")
SHARED_BASES = ("direct", "gpu_hours")


@dataclass(frozen=True)
class SharedRule:
    """Spread the charges that ``match`` selects over owners.

    ``match`` maps a dimension (a FOCUS column or ``tag:<key>``) to the values it may take;
    ``unowned`` also takes whatever ended with no owner. ``method``: ``proportional`` (to each
    owner's direct cost, or GPU-hours with ``basis = "gpu_hours"``), ``even``, or ``fixed``
    (``weights`` per owner, normalized to 1). ``owners`` limits the targets (default: every
    owner with direct cost in the window).
    """

    name: str
    method: str
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unowned: bool = False
    basis: str = "direct"
    weights: Mapping[str, float] = field(default_factory=dict)
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttributionConfig:
    """How tags become owners, what the tag policy requires, and how shared costs spread.

    ``aliases``: tag key spelling -> canonical key (compared case-insensitively, added to the
    built-in heuristics). ``values``: per canonical key, value spelling -> canonical value.
    ``allowed``: per key, the values the policy accepts (also the targets of value heuristics).
    ``accounts``: default tags of every resource in a (sub-)account, by account id.
    """

    owner: str = "team"
    required: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    aliases: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    shared: tuple[SharedRule, ...] = ()


@dataclass(frozen=True)
class Settings:
    """What mlcost needs to know before it does anything.

    ``warehouse`` is a URL (``duckdb:///abs/path.duckdb``, ``spark://local[2]?…``) or a plain
    path to a DuckDB file. A ``[spark]`` section in a config file sets it to a Spark URL.
    ``memory_limit`` caps the embedded engine's memory (DuckDB syntax: ``"1GB"``, ``"512MB"``).
    ``sources`` says, per setting, where its value came from, for ``mlcost config`` output
    and error messages.
    """

    warehouse: str
    sources: Mapping[str, str]
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    attribution: AttributionConfig = field(default_factory=AttributionConfig)


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """mlcost's XDG data folder: ``$XDG_DATA_HOME/mlcost`` (``~/.local/share/mlcost``)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME", "~")).expanduser()
    return Path(env.get("XDG_DATA_HOME") or home / ".local/share") / "mlcost"


def default_warehouse_url(env: Mapping[str, str]) -> str:
    """The XDG data-dir default: ``$XDG_DATA_HOME/mlcost/warehouse.duckdb``."""
    return f"duckdb://{data_dir(env) / 'warehouse.duckdb'}"


def _read_toml(path: Path) -> tuple[dict[str, object], AttributionConfig | None]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). Fix the file or remove it.") from exc
    section = data.get("mlcost", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [mlcost] must be a table of settings.")
    section = dict(section)
    spark = section.pop("spark", None) or data.get("spark")
    if spark is not None:
        if "warehouse" in section:
            raise ConfigError(
                f"{path}: both 'warehouse' and a [spark] section; keep the one you mean."
            )
        section["warehouse"] = spark_url(spark, path)
    raw = section.pop("attribution", None)
    if raw is None and "mlcost" in data:
        raw = data.get("attribution")
    attribution = None if raw is None else parse_attribution(raw, where=str(path))
    unknown = sorted(set(section) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(_KNOWN_KEYS))}."
        )
    for key, value in section.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: setting {key!r} must be a string, got {value!r}.")
    return section, attribution


def _table(value: object, where: str, name: str, known: frozenset[str] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table, got {value!r}.")
    if known is not None:
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)} in [{name}]. "
                f"Known: {', '.join(sorted(known))}. See docs/attribution.md."
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


def _shared_rule(value: object, where: str, n: int) -> SharedRule:
    name = f"attribution.shared[{n}]"
    known = frozenset({"name", "method", "match", "unowned", "basis", "weights", "owners"})
    t = _table(value, where, name, known)
    method = t.get("method")
    if method not in SHARED_METHODS:
        raise ConfigError(
            f"{where}: {name}.method is {method!r}; choose one of {', '.join(SHARED_METHODS)}."
        )
    basis = t.get("basis", "direct")
    if basis not in SHARED_BASES:
        raise ConfigError(
            f"{where}: {name}.basis is {basis!r}; choose one of {', '.join(SHARED_BASES)}."
        )
    match = {
        str(k): _strings(v, where, f"{name}.match.{k}")
        for k, v in _table(t.get("match", {}), where, f"{name}.match", None).items()
    }
    unowned = t.get("unowned", False)
    if not isinstance(unowned, bool):
        raise ConfigError(f"{where}: {name}.unowned must be true or false.")
    if not match and not unowned:
        raise ConfigError(
            f'{where}: {name} matches nothing: give match = {{ ServiceName = "..." }} '
            "(any FOCUS column or tag:<key>) or unowned = true."
        )
    weights: dict[str, float] = {}
    for k, v in _table(t.get("weights", {}), where, f"{name}.weights", None).items():
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ConfigError(f"{where}: {name}.weights.{k} must be a number >= 0, got {v!r}.")
        weights[str(k)] = float(v)
    if method == "fixed" and not sum(weights.values()) > 0:
        raise ConfigError(
            f'{where}: {name} uses method = "fixed" but has no positive weights; '
            "add weights = { search = 2, vision = 1 }."
        )
    return SharedRule(
        name=str(t.get("name") or f"rule-{n}"),
        method=str(method),
        match=match,
        unowned=unowned,
        basis=str(basis),
        weights=weights,
        owners=_strings(t.get("owners", []), where, f"{name}.owners"),
    )


def parse_attribution(raw: object, *, where: str = "attribution") -> AttributionConfig:
    """Validate an ``[attribution]`` table (as ``tomllib`` reads it); errors name ``where``.

    >>> parse_attribution({"aliases": {"team_name": "team"}}).aliases
    {'team_name': 'team'}
    """
    known = frozenset({"owner", "required", "aliases", "values", "allowed", "accounts", "shared"})
    t = _table(raw, where, "attribution", known)
    owner = t.get("owner", "team")
    if not isinstance(owner, str) or not owner:
        raise ConfigError(f'{where}: attribution.owner must be a tag key such as "team".')
    shared = t.get("shared", [])
    if not isinstance(shared, list):
        raise ConfigError(f"{where}: write shared rules as [[attribution.shared]] tables.")
    values = _table(t.get("values", {}), where, "attribution.values", None)
    allowed = _table(t.get("allowed", {}), where, "attribution.allowed", None)
    accounts = _table(t.get("accounts", {}), where, "attribution.accounts", None)
    return AttributionConfig(
        owner=owner,
        required=_strings(t.get("required", list(DEFAULT_REQUIRED_TAGS)), where, "required"),
        aliases=_string_map(t.get("aliases", {}), where, "attribution.aliases"),
        values={
            str(k): _string_map(v, where, f"attribution.values.{k}") for k, v in values.items()
        },
        allowed={
            str(k): _strings(v, where, f"attribution.allowed.{k}") for k, v in allowed.items()
        },
        accounts={
            str(k): _string_map(v, where, f"attribution.accounts.{k}") for k, v in accounts.items()
        },
        shared=tuple(_shared_rule(r, where, n) for n, r in enumerate(shared)),
    )


_SPARK_KEYS = frozenset({"master", "warehouse_dir", "database", "format", "conf"})


def spark_url(table: object, path: Path) -> str:
    """The ``spark://`` warehouse URL that a ``[spark]`` section of ``path`` describes.

    ``master`` is ``local[N]`` or ``spark://HOST:PORT``; ``warehouse_dir`` is relative to the
    file's folder; ``database`` and ``format`` (parquet, delta, iceberg) are optional;
    ``conf`` is a table of ``spark.*`` session settings.

    >>> spark_url({"master": "local[2]", "warehouse_dir": "/srv/wh"}, Path("mlcost.toml"))
    'spark://local[2]?warehouse_dir=%2Fsrv%2Fwh'
    """
    from urllib.parse import urlencode

    if not isinstance(table, dict) or not isinstance(table.get("master"), str):
        raise ConfigError(f'{path}: [spark] needs master = "local[2]" (or "spark://HOST:PORT").')
    unknown = sorted(set(table) - _SPARK_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown [spark] setting(s) {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(_SPARK_KEYS))}."
        )
    params: dict[str, str] = {}
    if "warehouse_dir" in table:
        params["warehouse_dir"] = str((path.parent / str(table["warehouse_dir"])).resolve())
    for key in ("database", "format"):
        if key in table:
            params[key] = str(table[key])
    conf = table.get("conf", {})
    if not isinstance(conf, dict) or not all(str(k).startswith("spark.") for k in conf):
        raise ConfigError(f"{path}: [spark] conf must be a table of spark.* settings.")
    params.update({str(k): str(v) for k, v in conf.items()})
    master = table["master"].removeprefix("spark://")
    return f"spark://{master}" + (f"?{urlencode(params)}" if params else "")


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
    attribution = AttributionConfig()
    for label, path in layers:
        if path is not None and path.is_file():
            section, found = _read_toml(path)
            for key, value in section.items():
                values[key] = str(value)
                origin[key] = f"{label} {path}"
            if found is not None:
                attribution = found
                origin["attribution"] = f"{label} {path}"
    for key in sorted(_KNOWN_KEYS):
        name = f"MLCOST_{key.upper()}"
        if env.get(name):
            values[key] = env[name]
            origin[key] = f"environment {name}"
    if warehouse:
        values["warehouse"] = warehouse
        origin["warehouse"] = "argument"
    return Settings(
        warehouse=values["warehouse"],
        sources=origin,
        memory_limit=values["memory_limit"],
        attribution=attribution,
    )
