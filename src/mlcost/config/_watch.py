"""``[watch]``: the interval, the sources ``mlcost watch`` ingests, insight alerts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlcost.config._paths import PROJECT_FILE
from mlcost.config._validate import _beside, _number, _strings, _table
from mlcost.errors import ConfigError


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
