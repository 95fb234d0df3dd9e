"""The ``api_tokens`` table: the server's store of tokens over the warehouse.

A row holds a token's id, name, scopes and the SHA-256 of its secret; revoking sets
``revoked_at`` and keeps the row. Writes need row writes and updates (DuckDB today; see
docs/engines.md); reads answer nothing (no token) where the table does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlcost.warehouse import Capability, Store

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

__all__ = ["TokenStore", "live_token", "live_tokens", "token_rows"]

TABLE = "api_tokens"


class TokenStore(Store):
    """Add and revoke API tokens."""

    feature = "API tokens"
    needs = frozenset({Capability.ROW_WRITES, Capability.UPDATE_WHERE})

    def add(self, row: Mapping[str, Any]) -> None:
        """Store one token row (its secret only as a hash); inside a transaction."""
        self.wh.insert_rows(TABLE, [row])

    def revoke(self, token_id: str, at: datetime) -> bool:
        """Mark a live token revoked at ``at``; False if no live token has that id."""
        found = self.wh.update_where(
            TABLE, {"revoked_at": at}, {"token_id": token_id, "revoked_at": None}
        )
        return found > 0


def token_rows(wh: Warehouse) -> list[dict[str, Any]]:
    """Every token row ever created, oldest first (revoked ones keep their row)."""
    if TABLE not in wh.tables():
        return []
    t = wh.table(TABLE)
    rows: list[dict[str, Any]] = t.order_by([t.created_at, t.token_id]).to_pyarrow().to_pylist()
    return rows


def live_tokens(wh: Warehouse) -> dict[str, dict[str, Any]]:
    """Every unrevoked token by id: ``scopes``, ``secret_sha256``, ``expires_at`` (or None).

    Small (one row per token), so the server keeps it in memory and rejects an unknown token
    without opening the warehouse."""
    if TABLE not in wh.tables():
        return {}
    t = wh.table(TABLE)
    cols = ["token_id", "scopes", "secret_sha256"]
    if "expires_at" in t.columns:  # before migration 11
        cols.append("expires_at")
    rows = t.filter(t.revoked_at.isnull()).select(*cols).to_pyarrow().to_pylist()
    return {r["token_id"]: {"expires_at": None, **r} for r in rows}


def live_token(wh: Warehouse, token_id: str) -> dict[str, Any] | None:
    """``scopes``, ``secret_sha256`` and ``expires_at`` of the live token with that id."""
    return live_tokens(wh).get(token_id)
