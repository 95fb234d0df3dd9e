"""Where mlcost keeps its files: the XDG folders, the project file, the catalog and the spool.

Every default location is decided here, from an environment mapping (``os.environ`` unless
given), so that tests and services can point mlcost elsewhere without touching ``$HOME``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_FILE = "mlcost.toml"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME", "~")).expanduser()


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """mlcost's XDG data folder: ``$XDG_DATA_HOME/mlcost`` (``~/.local/share/mlcost``)."""
    env = _env(env)
    return Path(env.get("XDG_DATA_HOME") or _home(env) / ".local/share") / "mlcost"


def user_config_file(env: Mapping[str, str] | None = None) -> Path:
    """The user's config file: ``$XDG_CONFIG_HOME/mlcost/config.toml`` (``~/.config/…``)."""
    env = _env(env)
    return Path(env.get("XDG_CONFIG_HOME") or _home(env) / ".config") / "mlcost" / "config.toml"


def find_project_file(start: Path) -> Path | None:
    """The ``mlcost.toml`` of ``start`` or of its nearest parent that has one."""
    for folder in (start, *start.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def catalog_home(env: Mapping[str, str] | None = None) -> Path:
    """Where imported catalog versions live: ``$MLCOST_CATALOG_DIR`` or the XDG data dir."""
    env = _env(env)
    if env.get("MLCOST_CATALOG_DIR"):
        return Path(env["MLCOST_CATALOG_DIR"])
    return data_dir(env) / "catalog"


def spool_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$MLCOST_SPOOL``, else ``$XDG_DATA_HOME/mlcost/spool`` (``~/.local/share/mlcost/spool``)."""
    env = _env(env)
    if env.get("MLCOST_SPOOL"):
        return Path(env["MLCOST_SPOOL"])
    return data_dir(env) / "spool"
