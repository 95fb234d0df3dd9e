"""Secrets out of messages: the one helper every error, log line and stored error goes through.

A webhook URL is a credential: Slack's ``https://hooks.slack.com/services/T…/B…/<token>``
lets anyone who reads it post, and many receivers take ``?token=`` in the query. A database
URL carries its password in ``user:password@``. So a URL shown to a user keeps its scheme and
host (enough to say which receiver failed) and loses the rest: an HTTP URL its path and query,
any other URL its password and query (its path names a database or a file, no secret).
"""

from __future__ import annotations

import re

# A URL in running text: scheme://, then everything up to whitespace or a quote, less the
# punctuation that ends a sentence ("{url}: refused").
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,:;)]")
_PARTS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?", re.S)
_HTTP = frozenset({"http", "https", "ws", "wss"})
HIDDEN = "…"
# Query parameters that carry credentials (password=, sig=, access_key=, spark.…secret.key=).
_SECRET_KEY = re.compile(r"pass|secret|token|key|sig|auth|credential", re.IGNORECASE)


def redact_url(url: str, *, secret_path: bool = False) -> str:
    """``url`` without its secrets, for messages, logs and stored errors.

    ``secret_path``: hide the path whatever the scheme (a webhook's, where the token lives).

    >>> redact_url("https://hooks.slack.com/services/T0/B0/XYZsecret")
    'https://hooks.slack.com/…'
    >>> redact_url("postgresql://app:s3cret@db.internal:5432/mlflow?sslmode=require&password=x")
    'postgresql://app:…@db.internal:5432/mlflow?sslmode=require&password=…'
    >>> redact_url("hooks.slack.com/services/T0/B0/XYZsecret")  # no scheme: nothing is safe
    '…'
    """
    # Split by hand: urlsplit refuses hosts such as Spark's local[2].
    parts = _PARTS.fullmatch(url.strip())
    if parts is None:
        return HIDDEN
    scheme, netloc, path, query, fragment = parts.groups(default="")
    scheme = scheme.lower()
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}{':' + HIDDEN if colon else ''}@{hostport}"
    if secret_path:
        return f"{scheme}://{netloc}" + (f"/{HIDDEN}" if path.strip("/") or query else "")
    if scheme in _HTTP:
        if not netloc:
            return HIDDEN
        tail = f"/{HIDDEN}" if path.strip("/") or query or fragment else ""
        return f"{scheme}://{netloc}{tail}"
    query = "&".join(
        f"{k}={HIDDEN}" if _SECRET_KEY.search(k) else f"{k}{eq}{v}"
        for k, eq, v in (p.partition("=") for p in query.split("&") if p)
    )
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


# Credentials that travel outside URLs in provider errors and client logs: an AWS access key
# id (AKIA… long-term, ASIA… temporary; IAM user guide, 2026) and an HTTP bearer token.
_ACCESS_KEY = re.compile(r"\b(A[KS]IA)[A-Z0-9]{16}\b")
_BEARER = re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`, and AWS access key
    ids and bearer tokens hidden.

    >>> redact("POST https://example.com/hook?token=abc failed: timed out")
    'POST https://example.com/… failed: timed out'
    >>> redact("Credential=AKIAIOSFODNN7EXAMPLE/20261204, Authorization: Bearer eyJhbGci.x")
    'Credential=AKIA…/20261204, Authorization: Bearer …'
    """
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _ACCESS_KEY.sub(lambda m: f"{m.group(1)}{HIDDEN}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)}{HIDDEN}", text)
