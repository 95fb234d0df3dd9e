"""Settings: one typed object, and the documented order in which it is assembled.

Precedence, lowest first: built-in defaults < user config file
(``$XDG_CONFIG_HOME/mlcost/config.toml``) < project ``mlcost.toml`` (the current directory or
the nearest parent that has one) < ``MLCOST_*`` environment variables < explicit arguments
(``--warehouse`` on the command line).

The ``[attribution]`` table (tag aliases, value normalization, tag policy, account owners and
shared-cost rules, see docs/attribution.md) is read from the same files; a project file's table
replaces the user file's as a whole. So do ``[budgets.<name>]``, ``[notify.channels.<name>]``,
``[policies.<name>]`` and ``[watch]`` (see docs/budgets.md): each is taken whole from the
highest layer that has it.

Example::

    >>> from mlcost.config import load_settings
    >>> load_settings(warehouse="duckdb:///tmp/example.duckdb", env={}).warehouse
    'duckdb:///tmp/example.duckdb'
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from mlcost.errors import ConfigError

__all__ = [
    "AttributionConfig",
    "BudgetConfig",
    "ChannelConfig",
    "PolicyConfig",
    "Settings",
    "SharedRule",
    "SourceConfig",
    "WatchConfig",
    "WorkingHours",
    "data_dir",
    "default_warehouse_url",
    "load_settings",
    "parse_attribution",
    "parse_budgets",
    "parse_channels",
    "parse_policies",
    "parse_watch",
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


BUDGET_PERIODS = ("monthly", "quarterly", "custom")
CHANNEL_KINDS = ("webhook", "slack", "email", "file")
POLICY_KINDS = ("idle", "budget", "required-tags", "max-duration", "max-gpus")
DEFAULT_PROTECT_TAG = "mlcost:protect"


@dataclass(frozen=True)
class BudgetConfig:
    """A budget: ``amount`` in ``currency`` per period for the spend that ``scope`` selects.

    ``scope`` maps a dimension (a FOCUS column or ``tag:<key>``; ``team``, ``project``,
    ``model`` and ``env`` mean their tags; ``owner`` means attribution's owner) to the values
    it may take; empty: all spend. An ``owner`` budget counts the owner's direct cost
    (``basis = "direct"``, showback's ``direct``) or direct plus shared plus its unclaimed GPU
    capacity (``basis = "total"``, showback's ``total``).
    ``thresholds`` fire on actual spend, ``forecast_thresholds`` on the forecast, both as
    fractions of ``amount`` (AWS Budgets' defaults: 75%, 90%, 100% actual, 100% forecast).
    ``start``/``end`` (ISO dates, end exclusive) only for ``period = "custom"``.
    """

    name: str
    amount: Decimal
    currency: str
    scope: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    period: str = "monthly"
    start: date | None = None
    end: date | None = None
    thresholds: tuple[float, ...] = (0.75, 0.9, 1.0)
    forecast_thresholds: tuple[float, ...] = (1.0,)
    channels: tuple[str, ...] = ()
    metric: str = "EffectiveCost"
    basis: str = "direct"


BUDGET_BASES = ("direct", "total")


@dataclass(frozen=True)
class ChannelConfig:
    """Where alerts go: ``webhook`` (generic JSON POST), ``slack`` (incoming webhook),
    ``email`` (SMTP) or ``file`` (JSON lines appended to ``path``)."""

    name: str
    kind: str
    url: str = ""
    path: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = 25
    sender: str = "mlcost@localhost"
    to: tuple[str, ...] = ()
    retries: int = 3
    backoff_s: float = 1.0
    timeout_s: float = 10.0


@dataclass(frozen=True)
class PolicyConfig:
    """A guardrail. ``kind = "idle"``: GPU utilization at most ``max_utilization`` (0..1) for
    ``minutes`` minutes. ``kind = "budget"``: once ``budget`` reaches 100% of actual spend, its
    scope's GPU resources whose ``env`` tag is one of ``envs`` (billed on the latest day).
    ``kind = "required-tags"``: GPU resources still billed on the latest day, first billed
    ``hours`` or more before it, that lack one of ``tags``. ``kind = "max-duration"``: running
    workloads older than ``max_hours[kind]`` hours (``workloads.kind``; ``"*"`` for any).
    ``kind = "max-gpus"``: per owner (``owner``, a dimension such as ``tag:team``), GPUs billed
    in the latest hour above ``max_gpus[owner]`` (``"*"`` for any); the newest resources over
    the cap are the violations. ``working_hours`` (idle only): while the evaluation moment is
    inside one of these spans in ``timezone``, idle resources are left alone.
    The ``action`` runs through ``executor``; resources whose tag ``protect_tag`` is ``true``
    are never acted on."""

    name: str
    kind: str
    action: str = "stop"
    executor: str = "aws-ec2"
    max_utilization: float = 0.05
    minutes: int = 60
    protect_tag: str = DEFAULT_PROTECT_TAG
    region: str = "us-east-1"
    endpoint_url: str = ""
    budget: str = ""
    envs: tuple[str, ...] = ("dev", "staging")
    tags: tuple[str, ...] = ("team",)
    hours: int = 24
    max_hours: Mapping[str, float] = field(default_factory=dict)
    max_gpus: Mapping[str, float] = field(default_factory=dict)
    owner: str = "owner"
    working_hours: tuple[WorkingHours, ...] = ()  # idle: act only outside these
    timezone: str = "UTC"


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
    watch: WatchConfig = field(default_factory=lambda: WatchConfig())


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """mlcost's XDG data folder: ``$XDG_DATA_HOME/mlcost`` (``~/.local/share/mlcost``)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME", "~")).expanduser()
    return Path(env.get("XDG_DATA_HOME") or home / ".local/share") / "mlcost"


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
        ("watch", parse_watch),
    ):
        raw = section.pop(key, None)
        if raw is None and "mlcost" in data:
            raw = data.get(key)
        if raw is not None:
            extra[key] = parse(raw, where=str(path))
    unknown = sorted(set(section) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(_KNOWN_KEYS))}."
        )
    for key, value in section.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: setting {key!r} must be a string, got {value!r}.")
    return section, attribution, extra


def _doc(name: str) -> str:
    guard = ("budgets", "notify", "policies", "watch")
    return "budgets.md" if name.startswith(guard) else "attribution.md"


def _table(value: object, where: str, name: str, known: frozenset[str] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table, got {value!r}.")
    if known is not None:
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)} in [{name}]. "
                f"Known: {', '.join(sorted(known))}. See docs/{_doc(name)}."
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


def _number(value: object, where: str, name: str, *, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise ConfigError(f"{where}: {name} must be a number >= {low:g}, got {value!r}.")
    return float(value)


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


_SCOPE_TAGS = ("team", "project", "model", "env")


def parse_budgets(raw: object, *, where: str = "budgets") -> tuple[BudgetConfig, ...]:
    """Validate ``[budgets.<name>]`` tables; errors name ``where``.

    >>> table = {"amount": 500, "currency": "USD", "scope": {"team": "vision"}}
    >>> parse_budgets({"vision": table})[0].scope
    {'tag:team': ('vision',)}
    """
    known = frozenset(
        {
            "amount",
            "currency",
            "scope",
            "period",
            "start",
            "end",
            "thresholds",
            "forecast_thresholds",
            "channels",
            "metric",
            "basis",
        }
    )
    out = []
    for name, value in _table(raw, where, "budgets", None).items():
        label = f"budgets.{name}"
        t = _table(value, where, label, known)
        try:
            amount = Decimal(str(t["amount"]))
        except (KeyError, InvalidOperation) as exc:
            raise ConfigError(
                f"{where}: {label}.amount must be a number, e.g. amount = 5000."
            ) from exc
        currency = t.get("currency")
        if not isinstance(currency, str) or len(currency) != 3:
            raise ConfigError(f'{where}: {label}.currency must be an ISO code such as "USD".')
        period = t.get("period", "monthly")
        if period not in BUDGET_PERIODS:
            raise ConfigError(
                f"{where}: {label}.period is {period!r}; choose one of {', '.join(BUDGET_PERIODS)}."
            )
        start = _iso_date(t.get("start"), where, f"{label}.start")
        end = _iso_date(t.get("end"), where, f"{label}.end")
        if period == "custom" and (start is None or end is None or end <= start):
            raise ConfigError(
                f"{where}: {label} is custom: give start and a later end (ISO dates)."
            )
        scope = {
            (f"tag:{k}" if k in _SCOPE_TAGS else str(k)): _strings(v, where, f"{label}.scope.{k}")
            for k, v in _table(t.get("scope", {}), where, f"{label}.scope", None).items()
        }
        basis = t.get("basis", "direct")
        if basis not in BUDGET_BASES:
            raise ConfigError(
                f"{where}: {label}.basis is {basis!r}; choose one of {', '.join(BUDGET_BASES)}."
            )
        if "basis" in t and "owner" not in scope:
            raise ConfigError(
                f'{where}: {label}.basis needs an owner scope, e.g. scope = {{ owner = "vision" }}.'
            )
        out.append(
            BudgetConfig(
                name=str(name),
                amount=amount,
                currency=currency.upper(),
                scope=scope,
                period=str(period),
                start=start,
                end=end,
                thresholds=_fractions(t.get("thresholds", [0.75, 0.9, 1.0]), where, label),
                forecast_thresholds=_fractions(t.get("forecast_thresholds", [1.0]), where, label),
                channels=_strings(t.get("channels", []), where, f"{label}.channels"),
                metric=str(t.get("metric", "EffectiveCost")),
                basis=str(basis),
            )
        )
    return tuple(out)


def _beside(path: str, where: str) -> str:
    # A relative file channel path is relative to the config file that names it.
    if not path or Path(path).expanduser().is_absolute() or not where.endswith(".toml"):
        return path
    return str(Path(where).parent / path)


def parse_channels(raw: object, *, where: str = "notify") -> dict[str, ChannelConfig]:
    """Validate the ``[notify.channels.<name>]`` tables; errors name ``where``."""
    top = _table(raw, where, "notify", frozenset({"channels"}))
    known = frozenset(
        {
            "kind",
            "url",
            "path",
            "smtp_host",
            "smtp_port",
            "from",
            "to",
            "retries",
            "backoff_s",
            "timeout_s",
        }
    )
    out = {}
    for name, value in _table(top.get("channels", {}), where, "notify.channels", None).items():
        label = f"notify.channels.{name}"
        t = _table(value, where, label, known)
        kind = t.get("kind")
        if kind not in CHANNEL_KINDS:
            raise ConfigError(
                f"{where}: {label}.kind is {kind!r}; choose one of {', '.join(CHANNEL_KINDS)}."
            )
        need = {"webhook": "url", "slack": "url", "file": "path", "email": "to"}[str(kind)]
        if not t.get(need):
            raise ConfigError(f"{where}: {label} ({kind}) needs {need}.")
        out[str(name)] = ChannelConfig(
            name=str(name),
            kind=str(kind),
            url=str(t.get("url", "")),
            path=_beside(str(t.get("path", "")), where),
            smtp_host=str(t.get("smtp_host", "localhost")),
            smtp_port=int(_number(t.get("smtp_port", 25), where, f"{label}.smtp_port", low=1)),
            sender=str(t.get("from", "mlcost@localhost")),
            to=_strings(t.get("to", []), where, f"{label}.to"),
            retries=int(_number(t.get("retries", 3), where, f"{label}.retries", low=1)),
            backoff_s=_number(t.get("backoff_s", 1.0), where, f"{label}.backoff_s"),
            timeout_s=_number(t.get("timeout_s", 10.0), where, f"{label}.timeout_s"),
        )
    return out


def parse_policies(raw: object, *, where: str = "policies") -> tuple[PolicyConfig, ...]:
    """Validate ``[policies.<name>]`` tables; errors name ``where``."""
    known = frozenset(
        {
            "kind",
            "action",
            "executor",
            "max_utilization",
            "minutes",
            "protect_tag",
            "region",
            "endpoint_url",
            "budget",
            "envs",
            "tags",
            "hours",
            "max_hours",
            "max_gpus",
            "owner",
            "working_hours",
            "timezone",
        }
    )
    out = []
    for name, value in _table(raw, where, "policies", None).items():
        label = f"policies.{name}"
        t = _table(value, where, label, known)
        kind = t.get("kind")
        if kind not in POLICY_KINDS:
            raise ConfigError(
                f"{where}: {label}.kind is {kind!r}; supported now: {', '.join(POLICY_KINDS)}."
            )
        if kind == "max-gpus" and not t.get("max_gpus"):
            raise ConfigError(
                f'{where}: {label} (max-gpus) needs max_gpus = {{ vision = 16, "*" = 8 }}.'
            )
        if kind == "max-duration" and not t.get("max_hours"):
            raise ConfigError(
                f"{where}: {label} (max-duration) needs max_hours = {{ training = 72, "
                '"*" = 24 }} (hours per workload kind).'
            )
        if kind == "budget" and not isinstance(t.get("budget"), str):
            raise ConfigError(f'{where}: {label} (budget) needs budget = "<a [budgets.*] name>".')
        out.append(
            PolicyConfig(
                name=str(name),
                kind=str(kind),
                budget=str(t.get("budget", "")),
                envs=_strings(t.get("envs", ["dev", "staging"]), where, f"{label}.envs"),
                tags=_strings(t.get("tags", ["team"]), where, f"{label}.tags"),
                hours=int(_number(t.get("hours", 24), where, f"{label}.hours")),
                owner=str(t.get("owner", "owner")),
                max_gpus={
                    str(k): _number(v, where, f"{label}.max_gpus.{k}")
                    for k, v in _table(
                        t.get("max_gpus", {}), where, f"{label}.max_gpus", None
                    ).items()
                },
                max_hours={
                    str(k): _number(v, where, f"{label}.max_hours.{k}")
                    for k, v in _table(
                        t.get("max_hours", {}), where, f"{label}.max_hours", None
                    ).items()
                },
                action=str(t.get("action", "stop")),
                executor=str(t.get("executor", "aws-ec2")),
                max_utilization=_number(
                    t.get("max_utilization", 0.05), where, f"{label}.max_utilization"
                ),
                minutes=int(_number(t.get("minutes", 60), where, f"{label}.minutes", low=1)),
                protect_tag=str(t.get("protect_tag", DEFAULT_PROTECT_TAG)),
                region=str(t.get("region", "us-east-1")),
                endpoint_url=str(t.get("endpoint_url", "")),
                **_policy_hours(t, where, label),
            )
        )
    return tuple(out)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingHours:
    """Week days (0 = Monday) and a local time span, end exclusive: ``Mon-Fri 08:00-19:00``."""

    days: frozenset[int]
    start: time
    end: time

    def __contains__(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


def _day(text: str) -> int:
    if text[:3].lower() not in _DAYS:
        raise ValueError(text)
    return _DAYS.index(text[:3].lower())


def parse_working_hours(text: str) -> tuple[WorkingHours, ...]:
    """``"Mon-Fri 08:00-19:00, Sat 10:00-14:00"`` -> spans; ValueError if malformed.

    >>> parse_working_hours("Mon-Fri 08:00-19:00")[0].days == frozenset(range(5))
    True
    """
    out = []
    for part in text.split(","):
        days, _, hours = part.strip().partition(" ")
        first, _, last = days.partition("-")
        a, b = _day(first), _day(last or first)
        start, _, end = hours.strip().partition("-")
        span = WorkingHours(
            frozenset(range(a, b + 1) if a <= b else (*range(a, 7), *range(b + 1))),
            time.fromisoformat(start.strip()),
            time.fromisoformat(end.strip()),
        )
        if span.end <= span.start:
            raise ValueError(part)
        out.append(span)
    return tuple(out)


def _policy_hours(t: Mapping[str, Any], where: str, label: str) -> dict[str, Any]:
    """A policy's ``working_hours`` and ``timezone`` (idle only), validated."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if "working_hours" not in t and "timezone" not in t:
        return {}
    if t.get("kind") != "idle":
        raise ConfigError(f'{where}: {label}: working_hours applies to kind = "idle" only.')
    try:
        spans = parse_working_hours(str(t.get("working_hours", "")))
    except ValueError as exc:
        raise ConfigError(
            f"{where}: {label}.working_hours is {t.get('working_hours')!r}; write days and "
            'hours such as "Mon-Fri 08:00-19:00" (several: separate with commas).'
        ) from exc
    tz = str(t.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f'{where}: {label}.timezone {tz!r} is not an IANA zone such as "Europe/Berlin".'
        ) from exc
    return {"working_hours": spans, "timezone": tz}


@dataclass(frozen=True)
class SourceConfig:
    """Files ``mlcost watch`` ingests each round: ``kind`` is a source name or ``auto``."""

    name: str
    kind: str
    paths: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    where: str = PROJECT_FILE


@dataclass(frozen=True)
class WatchConfig:
    """``[watch]``: the interval, the sources to ingest, and alerts on new insights whose
    monthly saving reaches ``insight_min_impact`` in ``insight_currency``."""

    every: str = "15m"
    sources: tuple[SourceConfig, ...] = ()
    insight_min_impact: float | None = None
    insight_currency: str = "USD"
    insight_channels: tuple[str, ...] = ()
    insight_kinds: tuple[str, ...] = ()


def parse_watch(raw: object, *, where: str = "watch") -> WatchConfig:
    """Validate ``[watch]`` and its ``[watch.sources.<name>]`` tables; errors name ``where``."""
    known = frozenset(
        {
            "every",
            "sources",
            "insight_min_impact",
            "insight_currency",
            "insight_channels",
            "insight_kinds",
        }
    )
    t = _table(raw, where, "watch", known)
    sources = []
    for name, value in _table(t.get("sources", {}), where, "watch.sources", None).items():
        label = f"watch.sources.{name}"
        s = _table(value, where, label, frozenset({"kind", "paths", "options"}))
        paths = _strings(s.get("paths", []), where, f"{label}.paths")
        if not paths:
            raise ConfigError(f'{where}: {label} needs paths = ["exports/"] (files or folders).')
        sources.append(
            SourceConfig(
                str(name),
                str(s.get("kind", "auto")),
                tuple(_beside(p, where) for p in paths),
                _table(s.get("options", {}), where, f"{label}.options", None),
                where,
            )
        )
    impact = t.get("insight_min_impact")
    currency = t.get("insight_currency", "USD")
    if not isinstance(currency, str) or len(currency) != 3:
        raise ConfigError(f'{where}: watch.insight_currency must be an ISO code such as "USD".')
    channels = _strings(t.get("insight_channels", []), where, "watch.insight_channels")
    if impact is not None and not channels:
        raise ConfigError(
            f'{where}: watch.insight_min_impact is set: add insight_channels = ["<channel>"].'
        )
    every = str(t.get("every", "15m"))
    if not re.fullmatch(r"\d+(\.\d+)?[smh]", every):
        raise ConfigError(f'{where}: watch.every is {every!r}; write e.g. "15m", "30s" or "1h".')
    return WatchConfig(
        every=every,
        sources=tuple(sources),
        insight_min_impact=None
        if impact is None
        else _number(impact, where, "watch.insight_min_impact"),
        insight_currency=currency.upper(),
        insight_channels=channels,
        insight_kinds=_strings(t.get("insight_kinds", []), where, "watch.insight_kinds"),
    )


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
    return Settings(
        warehouse=values["warehouse"],
        sources=origin,
        memory_limit=values["memory_limit"],
        attribution=attribution,
        budgets=tables.get("budgets", ()),
        channels=tables.get("notify", {}),
        policies=tables.get("policies", ()),
        watch=tables.get("watch", WatchConfig()),
    )
