"""API tokens and who a request is: :class:`Principal`, scopes, hashed secrets.

A token reads ``mlcost_<id>_<secret>``: ``<id>`` (8 hex digits) names the row in the
``api_tokens`` table, ``<secret>`` is 32 random bytes (URL-safe base64). Only the SHA-256 of
the whole string is stored, and it is compared in constant time, so the warehouse file grants
nothing to whoever copies it. A secret is printed once, by ``mlcost tokens create``.

Scopes: ``admin`` (everything), ``read:all`` (read every team), ``read:team:<name>`` (one
team's costs, statements and insights, plus totals without other teams' detail); a token may
carry several ``read:team:`` scopes.

The ``api_tokens`` table is this package's own store (``_store.py``: :class:`TokenStore`
over the warehouse's general operations).

    >>> Principal("t1", frozenset({"read:team:search"})).can_read_team("vision")
    False
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request

from mlcost.errors import InvalidInput, NotFound
from mlcost.server.auth._store import TokenStore, live_tokens, token_rows

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = [
    "COOKIE",
    "LOCAL",
    "Principal",
    "TokenInfo",
    "TokenStore",
    "authenticate",
    "authorized",
    "create_token",
    "current_principal",
    "list_tokens",
    "parse_expiry",
    "parse_scopes",
    "require_admin",
    "require_read_all",
    "revoke_token",
    "verify",
    "well_formed",
]

COOKIE = "mlcost_token"
_TEAM = "read:team:"
_TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^mlcost_([0-9a-f]{8})_[A-Za-z0-9_-]{20,}$")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token's id and its scopes (``"local"`` with every right in no-auth)."""

    token_id: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    @property
    def teams(self) -> frozenset[str] | None:
        """None: may read every team; else the teams this principal may read."""
        if self.is_admin or "read:all" in self.scopes:
            return None
        return frozenset(s[len(_TEAM) :] for s in self.scopes if s.startswith(_TEAM))

    def can_read_team(self, team: str) -> bool:
        teams = self.teams
        return teams is None or team in teams


LOCAL = Principal("local", frozenset({"admin"}))


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without its secret."""

    token_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None


def parse_scopes(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validated, de-duplicated scopes; a bad one raises naming it and the accepted forms.

    >>> parse_scopes(["read:team:search", "read:all"])
    ('read:all', 'read:team:search')
    """
    out: set[str] = set()
    for raw in values:
        for scope in raw.replace(",", " ").split():
            team = scope[len(_TEAM) :] if scope.startswith(_TEAM) else None
            if scope in ("admin", "read:all") or (team is not None and _TEAM_NAME.match(team)):
                out.add(scope)
                continue
            raise InvalidInput(
                f"Unknown scope {scope!r}. Use admin, read:all or read:team:<name> "
                "(a team name of letters, digits, '.', '_' or '-')."
            )
    if not out:
        raise InvalidInput("A token needs a scope: --scope admin, read:all or read:team:<name>.")
    return tuple(sorted(out))


_SPAN = re.compile(r"^(\d{1,5})([hdw])$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_expiry(text: str, now: datetime) -> datetime:
    """When a token made at ``now`` (naive UTC) expires: ``30d``, ``12h``, ``2w`` after it,
    or a date / date-time (UTC) such as ``2027-01-31``; it must lie in the future.

    >>> parse_expiry("30d", datetime(2026, 1, 1))
    datetime.datetime(2026, 1, 31, 0, 0)
    """
    raw = text.strip()
    span = _SPAN.match(raw)
    if span is not None and int(span.group(1)) > 0:
        return now + int(span.group(1)) * _UNIT[span.group(2)]
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        at = None
    if at is not None and at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    if at is None or at <= now:
        raise InvalidInput(
            f"--expires {text!r} is not a time in the future. Write a span like 30d, 12h or 2w, "
            "or a UTC date like 2027-01-31."
        )
    return at


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    wh: Warehouse,
    scopes: list[str] | tuple[str, ...],
    name: str = "",
    expires: str | None = None,
) -> tuple[TokenInfo, str]:
    """Store a new token; return it and its secret (shown once, never stored).

    ``expires`` (see :func:`parse_expiry`): refused after that time; None never expires."""
    checked = parse_scopes(scopes)
    store = TokenStore(wh)
    token_id = secrets.token_hex(4)
    secret = f"mlcost_{token_id}_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC).replace(tzinfo=None)
    expires_at = None if expires is None else parse_expiry(expires, now)
    info = TokenInfo(token_id, name or token_id, checked, now, None, expires_at)
    row: dict[str, Any] = {"expires_at": expires_at} if expires_at is not None else {}
    with wh.transaction():
        store.add(
            {
                "token_id": token_id,
                "name": info.name,
                "scopes": " ".join(checked),
                "secret_sha256": _digest(secret),
                "created_at": now,
                **row,
            }
        )
    return info, secret


def list_tokens(wh: Warehouse) -> list[TokenInfo]:
    """Every token ever created, oldest first (revoked ones keep their row)."""
    return [
        TokenInfo(
            r["token_id"],
            r["name"],
            tuple(r["scopes"].split()),
            r["created_at"],
            r["revoked_at"],
            r.get("expires_at"),
        )
        for r in token_rows(wh)
    ]


def revoke_token(wh: Warehouse, token_id: str) -> TokenInfo:
    """Revoke a live token by id; the row stays, with ``revoked_at``."""
    store = TokenStore(wh)
    now = datetime.now(UTC).replace(tzinfo=None)
    with wh.transaction():
        done = store.revoke(token_id, now)
    found = {t.token_id: t for t in list_tokens(wh)}
    if not done or token_id not in found:
        live = ", ".join(t.token_id for t in found.values() if t.revoked_at is None) or "none"
        raise NotFound(
            f"No live token with id {token_id!r} (live ids: {live}). See: mlcost tokens list"
        )
    return found[token_id]


def well_formed(token: str) -> str | None:
    """The id of a token shaped like ours (``mlcost_<8 hex>_<secret>``), else None."""
    match = _TOKEN.match(token)
    return None if match is None else match.group(1)


def verify(
    live: Mapping[str, Mapping[str, Any]], token: str, now: datetime | None = None
) -> Principal | None:
    """The principal of ``token`` among ``live`` tokens (:func:`live_tokens`), or None when it
    is unknown, malformed, revoked or expired. Secrets are compared in constant time."""
    token_id = well_formed(token)
    row = None if token_id is None else live.get(token_id)
    if row is None or not hmac.compare_digest(row["secret_sha256"], _digest(token)):
        return None
    expires_at = row.get("expires_at")
    if expires_at is not None and expires_at <= (now or datetime.now(UTC).replace(tzinfo=None)):
        return None
    return Principal(token_id, frozenset(row["scopes"].split()))  # type: ignore[arg-type]


def authenticate(wh: Warehouse, token: str) -> Principal | None:
    """The principal of a presented token, or None when unknown, malformed, revoked or expired."""
    return verify(live_tokens(wh), token)


def presented_token(request: Request) -> str | None:
    """``Authorization: Bearer <token>``, else the ``mlcost_token`` cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


_NO_TOKEN = (
    "An API token is required: send 'Authorization: Bearer <token>' "
    "(create one with `mlcost tokens create --scope read:all`)."
)
_BAD_TOKEN = "Unknown, revoked or expired API token. See: mlcost tokens list"


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the request's principal, or 401 without a valid token."""
    state = request.app.state
    if state.no_auth:
        return LOCAL
    token = presented_token(request)
    if token is None:
        raise _unauthorized(_NO_TOKEN)
    principal: Principal | None = state.reader.principal(token)
    if principal is None:
        raise _unauthorized(_BAD_TOKEN)
    return principal


async def authorized(request: Request) -> Principal:
    """:func:`current_principal` for the event loop: a token checked against the in-memory
    table of the current warehouse costs no thread hop (nor a malformed or unknown one); only a
    reload of that table, after a write, runs in the thread pool."""
    from starlette.concurrency import run_in_threadpool

    state = request.app.state
    token = presented_token(request)
    if state.no_auth or token is None:
        return current_principal(request)
    known, principal = state.reader.known_principal(token)
    assert principal is None or isinstance(principal, Principal)
    if not known:
        return await run_in_threadpool(current_principal, request)
    if principal is None:
        raise _unauthorized(_BAD_TOKEN)
    return principal


def require_read_all(principal: Principal) -> None:
    """403 unless the principal reads every team (admin or read:all)."""
    if principal.teams is not None:
        raise HTTPException(
            status_code=403,
            detail="This needs a token with scope read:all or admin; "
            f"token {principal.token_id} reads only team(s) {', '.join(sorted(principal.teams))}.",
        )


def require_admin(principal: Principal) -> None:
    """403 unless the principal is an admin."""
    if not principal.is_admin:
        raise HTTPException(
            status_code=403, detail=f"This needs a token with scope admin ({principal.token_id})."
        )
