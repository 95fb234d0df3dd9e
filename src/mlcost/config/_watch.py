"""``[watch]``: the interval, the sources ``mlcost watch`` ingests, insight alerts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlcost.config._paths import PROJECT_FILE
from mlcost.config._validate import _beside, _number, _strings, _table
from mlcost.errors import ConfigError

# Bill URLs a watched source may name (docs/remote.md); a relative file path stays beside the
# config file, a URL is kept as written.
URL_SCHEMES = ("s3", "az", "abfs", "abfss")
_AGE = re.compile(r"\d+(\.\d+)?[smhd]")


@dataclass(frozen=True)
class SourceConfig:
    """Files or bill URLs ``mlcost watch`` ingests each round: ``kind`` is a source name or
    ``auto``. ``stale_after`` (``"36h"``, ``"2d"``): a URL source whose newest delivery is
    older than that raises one alert to ``channels``; None: never."""

    name: str
    kind: str
    paths: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    where: str = PROJECT_FILE
    stale_after: str | None = None
    channels: tuple[str, ...] = ()


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
        s = _table(
            value,
            where,
            label,
            frozenset({"kind", "paths", "options", "stale_after", "channels"}),
        )
        paths = _strings(s.get("paths", []), where, f"{label}.paths")
        if not paths:
            raise ConfigError(
                f'{where}: {label} needs paths = ["exports/"] (files, folders or '
                "s3:// / az:// URLs)."
            )
        for p in paths:
            scheme = p.split("://", 1)[0].lower() if "://" in p else None
            if scheme is not None and "?" in p:  # a SAS token or key: never echoed
                raise ConfigError(
                    f"{where}: {label}.paths has a URL with a query string; credentials come "
                    "from the provider's standard chain, never from mlcost.toml "
                    "(docs/remote.md)."
                )
            if scheme is not None and scheme not in URL_SCHEMES:
                raise ConfigError(
                    f"{where}: {label}.paths has {p.split('://', 1)[0]}:// URL; mlcost reads "
                    "s3://BUCKET/PREFIX/ and az://CONTAINER/PATH (docs/remote.md)."
                )
        stale = s.get("stale_after")
        if stale is not None and not (isinstance(stale, str) and _AGE.fullmatch(stale)):
            raise ConfigError(
                f'{where}: {label}.stale_after is {stale!r}; write e.g. "36h" or "2d".'
            )
        sources.append(
            SourceConfig(
                str(name),
                str(s.get("kind", "auto")),
                tuple(p if "://" in p else _beside(p, where) for p in paths),
                _table(s.get("options", {}), where, f"{label}.options", None),
                where,
                stale,
                _strings(s.get("channels", []), where, f"{label}.channels"),
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
