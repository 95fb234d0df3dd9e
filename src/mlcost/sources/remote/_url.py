"""Bill locations given by URL: ``s3://bucket/prefix/``, ``az://container/path``,
``abfs[s]://container@account.dfs.core.windows.net/path``; parsed once into a :class:`RemoteUrl`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlcost.config import redact_url
from mlcost.errors import ConfigError

SCHEMES = ("s3", "az", "abfs", "abfss")
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^/?#]*)(?P<path>[^?#]*)")


def is_remote(text: object) -> bool:
    """Whether ``text`` is a bill URL mlcost fetches (``s3://``, ``az://``, ``abfs://``)."""
    return isinstance(text, str) and text.split("://", 1)[0].lower() in SCHEMES and "://" in text


@dataclass(frozen=True)
class RemoteUrl:
    """A bucket (S3) or container (Azure) and a prefix inside it.

    ``provider`` is ``s3`` or ``azure``; ``account`` is the Azure Storage account when the URL
    names one (``container@account``), else it comes from the environment.
    """

    provider: str
    bucket: str
    prefix: str
    account: str | None = None

    @property
    def label(self) -> str:
        """The URL as mlcost shows and stores it: no query string, no credential."""
        if self.provider == "s3":
            return f"s3://{self.bucket}/{self.prefix}"
        at = f"@{self.account}" if self.account else ""
        return f"az://{self.bucket}{at}/{self.prefix}"

    @property
    def store_name(self) -> str:
        return "S3" if self.provider == "s3" else "Azure Storage"

    def object_url(self, key: str) -> str:
        """The URL of one object in the same bucket or container."""
        return RemoteUrl(self.provider, self.bucket, key, self.account).label


def parse_url(text: str) -> RemoteUrl:
    """Parse a bill URL once.

    >>> parse_url("s3://billing/exports/focus/").label
    's3://billing/exports/focus/'
    >>> parse_url("abfss://costs@acme.dfs.core.windows.net/focus").account
    'acme'
    """
    if "?" in text:
        raise ConfigError(
            f"{redact_url(text)}: a bill URL takes no query string (credentials come from the "
            "provider's standard chain, never from the URL); see docs/remote.md."
        )
    m = _URL.fullmatch(text.strip())
    scheme = m.group("scheme").lower() if m else ""
    if m is None or scheme not in SCHEMES or not m.group("host"):
        raise ConfigError(
            f"{redact_url(text)} is not a bill URL mlcost can read; write s3://BUCKET/PREFIX/ "
            "or az://CONTAINER/PATH (see docs/remote.md)."
        )
    host, path = m.group("host"), m.group("path").lstrip("/")
    if scheme == "s3":
        return RemoteUrl("s3", host, path)
    container, at, account_host = host.partition("@")
    account = account_host.split(".", 1)[0] if at else None
    return RemoteUrl("azure", container, path, account or None)
