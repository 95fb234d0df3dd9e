"""``[notify.channels.<name>]``: where alerts go (webhook, Slack, email, file)."""

from __future__ import annotations

from dataclasses import dataclass

from mlcost.config._redact import redact_url
from mlcost.config._validate import _beside, _number, _strings, _table
from mlcost.errors import ConfigError

CHANNEL_KINDS = ("webhook", "slack", "email", "file")


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
        if kind in ("webhook", "slack"):
            _http_url(t["url"], where, label)
        to = _strings(t.get("to", []), where, f"{label}.to")
        for address in to:  # a line break would smuggle a header (Bcc:) into every alert
            if "@" not in address or any(c in address for c in "\r\n"):
                raise ConfigError(
                    f"{where}: {label}.to: {address!r} is not one email address; write "
                    'to = ["finops@example.com"].'
                )
        out[str(name)] = ChannelConfig(
            name=str(name),
            kind=str(kind),
            url=str(t.get("url", "")),
            path=_beside(str(t.get("path", "")), where),
            smtp_host=str(t.get("smtp_host", "localhost")),
            smtp_port=int(_number(t.get("smtp_port", 25), where, f"{label}.smtp_port", low=1)),
            sender=str(t.get("from", "mlcost@localhost")),
            to=to,
            retries=int(_number(t.get("retries", 3), where, f"{label}.retries", low=1)),
            backoff_s=_number(t.get("backoff_s", 1.0), where, f"{label}.backoff_s"),
            timeout_s=_number(t.get("timeout_s", 10.0), where, f"{label}.timeout_s"),
        )
    return out


def _http_url(url: object, where: str, label: str) -> None:
    """A webhook is POSTed over HTTP: refuse other schemes here, not when an alert is due.

    The URL is a credential (a Slack webhook's path is its token): messages show it redacted.
    """
    from urllib.parse import urlsplit

    example = "https://hooks.slack.com/services/T000/B000/XXXX"
    if not isinstance(url, str):
        raise ConfigError(f"{where}: {label}.url must be a string such as {example!r}.")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - parsing it is the check ("http://h:x" has none)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        shown = redact_url(url, secret_path=True)
        got = "a value with no scheme" if shown == "…" else repr(shown)
        raise ConfigError(
            f"{where}: {label}.url must be an http:// or https:// URL with a host, such as "
            f"{example!r}; got {got}."
        )
