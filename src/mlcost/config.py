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

__all__ = ["Settings", "default_warehouse_url", "load_settings", "spark_url"]

PROJECT_FILE = "mlcost.toml"
_KNOWN_KEYS = frozenset({"warehouse"})


@dataclass(frozen=True)
class Settings:
    """What mlcost needs to know before it does anything.

    ``warehouse`` is a URL (``duckdb:///abs/path.duckdb``, ``spark://local[2]?…``) or a plain
    path to a DuckDB file. A ``[spark]`` section in a config file sets it to a Spark URL.
    ``sources`` says, per setting, where its value came from, for ``mlcost config`` output
    and error messages.
    """

    warehouse: str
    sources: Mapping[str, str]


def default_warehouse_url(env: Mapping[str, str]) -> str:
    """The XDG data-dir default: ``$XDG_DATA_HOME/mlcost/warehouse.duckdb``."""
    data_home = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local/share"
    )
    return f"duckdb://{Path(data_home) / 'mlcost' / 'warehouse.duckdb'}"


def _read_toml(path: Path) -> dict[str, object]:
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
    values: dict[str, str] = {"warehouse": default_warehouse_url(env)}
    origin: dict[str, str] = {"warehouse": "default"}

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
    if env.get("MLCOST_WAREHOUSE"):
        values["warehouse"] = env["MLCOST_WAREHOUSE"]
        origin["warehouse"] = "environment MLCOST_WAREHOUSE"
    if warehouse:
        values["warehouse"] = warehouse
        origin["warehouse"] = "argument"
    return Settings(warehouse=values["warehouse"], sources=origin)
