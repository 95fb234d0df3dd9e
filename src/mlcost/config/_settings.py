"""Settings and their precedence: defaults < user file < project file < environment < arguments."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcost.config._attribution import AttributionConfig, parse_attribution
from mlcost.config._budgets import BudgetConfig, parse_budgets
from mlcost.config._channels import ChannelConfig, parse_channels
from mlcost.config._paths import data_dir, find_project_file, user_config_file
from mlcost.config._policies import OwnerConfig, PolicyConfig, parse_owners, parse_policies
from mlcost.config._spark import spark_url
from mlcost.config._validate import _beside, _did_you_mean
from mlcost.config._watch import WatchConfig, parse_watch
from mlcost.errors import ConfigError

_KNOWN_KEYS = frozenset({"warehouse", "memory_limit"})
_TABLES = ("spark", "attribution", "budgets", "notify", "policies", "owners", "watch")
# The sizes DuckDB's memory_limit takes (its parser, DuckDB 1.5): a number, then a unit in
# powers of 1000 (KB..TB) or of 1024 (KiB..TiB), any case, a space allowed between. Checked
# here so a value never reaches SQL unchecked; the warehouse also passes it as a parameter.
_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B)", re.IGNORECASE)
# DuckDB's own default is 80% of RAM; a cap keeps a 10-million-row ingest under 2 GiB, and
# DuckDB spills to disk rather than fail when a query needs more (docs/benchmarks.md).
DEFAULT_MEMORY_LIMIT = "1GB"


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
    budgets: tuple[BudgetConfig, ...] = ()
    channels: Mapping[str, ChannelConfig] = field(default_factory=dict)
    policies: tuple[PolicyConfig, ...] = ()
    owners: Mapping[str, OwnerConfig] = field(default_factory=dict)
    watch: WatchConfig = field(default_factory=lambda: WatchConfig())


def default_warehouse_url(env: Mapping[str, str]) -> str:
    """The XDG data-dir default: ``$XDG_DATA_HOME/mlcost/warehouse.duckdb``."""
    return f"duckdb://{data_dir(env) / 'warehouse.duckdb'}"


def _read_toml(path: Path) -> tuple[dict[str, object], AttributionConfig | None, dict[str, Any]]:
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
    extra: dict[str, Any] = {}
    for key, parse in (
        ("budgets", parse_budgets),
        ("notify", parse_channels),
        ("policies", parse_policies),
        ("owners", parse_owners),
        ("watch", parse_watch),
    ):
        raw = section.pop(key, None)
        if raw is None and "mlcost" in data:
            raw = data.get(key)
        if raw is not None:
            extra[key] = parse(raw, where=str(path))
    _refuse_unknown(path, section, data)
    for key, value in section.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: setting {key!r} must be a string, got {value!r}.")
    if "warehouse" in section and spark is None:
        section["warehouse"] = _warehouse_beside(section["warehouse"], path)
    return section, attribution, extra


def _refuse_unknown(path: Path, section: Mapping[str, object], data: Mapping[str, object]) -> None:
    """Refuse what no one reads: a misspelled table (``[polices.x]``) would pass in silence."""
    # Outside an [mlcost] table only the section tables may stand beside it.
    outside = set(data) - {"mlcost", *_TABLES} if "mlcost" in data else set()
    tables = sorted({k for k, v in section.items() if isinstance(v, dict)} | outside)
    if tables:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(f'[{t}]' for t in tables)}."
            f"{_did_you_mean(tables, _TABLES)} Known: "
            f"{', '.join(f'[{t}]' for t in _TABLES)}. See docs/budgets.md and docs/attribution.md."
        )
    unknown = sorted(set(section) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}.{_did_you_mean(unknown, _KNOWN_KEYS)}"
            f" Known: {', '.join(sorted(_KNOWN_KEYS))}."
        )


def _warehouse_beside(url: str, path: Path) -> str:
    # A relative DuckDB file in a config file is beside that file, as [spark] warehouse_dir
    # is, not wherever the command runs (a subfolder would silently get a new warehouse).
    prefix = "duckdb://" if url.startswith("duckdb://") else ""
    if "://" in url.removeprefix(prefix) or url.removeprefix(prefix) in ("", ":memory:"):
        return url
    return prefix + _beside(url.removeprefix(prefix), str(path))


def _memory_limit(value: str, where: str) -> str:
    if not _SIZE.fullmatch(value.strip()):
        raise ConfigError(
            f"{where}: memory_limit is {value!r}, not a size. Write a number and a unit, "
            'such as "1GB", "512MB" or "4GiB" (KB, MB, GB, TB or KiB, MiB, GiB, TiB).'
        )
    return value.strip()


def _check_references(settings: Settings) -> None:
    """Names one table gives another must exist when the config loads, not at alert time."""
    known = settings.channels
    named = [
        (settings.sources.get("budgets", ""), f"budgets.{b.name}.channels", b.channels)
        for b in settings.budgets
    ]
    watch = settings.watch.insight_channels
    named.append((settings.sources.get("watch", ""), "watch.insight_channels", watch))
    named += [
        (settings.sources.get("policies", ""), f"policies.{p.name}.channels", p.channels)
        for p in settings.policies
    ]
    named += [
        (settings.sources.get("owners", ""), f"owners.{o.name}.channels", o.channels)
        for o in settings.owners.values()
    ]
    named += [
        (src.where, f"watch.sources.{src.name}.channels", src.channels)
        for src in settings.watch.sources
    ]
    for where, key, names in named:
        missing = sorted(set(names) - set(known))
        if missing:
            raise ConfigError(
                f"{where}: {key} names channel(s) {', '.join(missing)} that no "
                f"[notify.channels.<name>] defines.{_did_you_mean(missing, known)} Defined: "
                f"{', '.join(sorted(known)) or 'none'}; add [notify.channels.{missing[0]}]."
            )
    budgets = {b.name for b in settings.budgets}
    for p in settings.policies:
        if p.kind == "budget" and p.budget not in budgets:
            hint = _did_you_mean([p.budget], budgets)
            raise ConfigError(
                f"{settings.sources.get('policies', '')}: policies.{p.name}.budget names "
                f"{p.budget!r}, which no [budgets.<name>] defines.{hint}"
                f" Defined: {', '.join(sorted(budgets)) or 'none'}."
            )


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

    layers: list[tuple[str, Path | None]] = [
        ("user config", user_config_file(env)),
        ("project", find_project_file(cwd)),
    ]
    attribution = AttributionConfig()
    tables: dict[str, Any] = {}
    for label, path in layers:
        if path is not None and path.is_file():
            section, found, extra = _read_toml(path)
            for key, value in extra.items():
                tables[key] = value
                origin[key] = f"{label} {path}"
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
    values["memory_limit"] = _memory_limit(values["memory_limit"], origin["memory_limit"])
    settings = Settings(
        warehouse=values["warehouse"],
        sources=origin,
        memory_limit=values["memory_limit"],
        attribution=attribution,
        budgets=tables.get("budgets", ()),
        channels=tables.get("notify", {}),
        policies=tables.get("policies", ()),
        owners=tables.get("owners", {}),
        watch=tables.get("watch", WatchConfig()),
    )
    _check_references(settings)
    return settings
