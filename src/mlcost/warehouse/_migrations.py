"""Versioned schema migrations, applied in order when a warehouse is opened.

Never edit a released migration: add a new one. Each runs in its own transaction together with
the row that records it in ``schema_migrations``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcost.warehouse._schema import cost_line_items_ddl


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: Callable[[], list[str]]


def _v1() -> list[str]:
    return [
        cost_line_items_ddl(),
        """CREATE TABLE ingests (
            ingest_id BIGINT PRIMARY KEY,
            source VARCHAR NOT NULL,          -- registry name, e.g. 'focus'
            paths VARCHAR[] NOT NULL,         -- the files loaded, absolute
            content_hash VARCHAR NOT NULL,    -- sha256 over the files' sha256s, sorted
            focus_version VARCHAR,            -- detected version(s), e.g. '1.2' or '1.0,1.3'
            billing_accounts VARCHAR[],
            billing_periods TIMESTAMP[],      -- BillingPeriodStart values covered
            row_count BIGINT NOT NULL,
            rows_replaced BIGINT NOT NULL,    -- older rows of the same account+period replaced
            warnings VARCHAR[],
            loaded_at TIMESTAMP NOT NULL
        )""",
    ]


def _v2() -> list[str]:
    # FOCUS 1.3 adds the ContractCommitment dataset; 1.4 keeps its 13 core columns.
    return [
        """CREATE TABLE contract_commitments (
            "ContractId" VARCHAR,
            "ContractCommitmentId" VARCHAR,
            "ContractCommitmentType" VARCHAR,
            "ContractCommitmentCategory" VARCHAR,
            "ContractCommitmentDescription" VARCHAR,
            "ContractCommitmentCost" DECIMAL(38, 12),
            "ContractCommitmentQuantity" DECIMAL(38, 12),
            "ContractCommitmentUnit" VARCHAR,
            "ContractCommitmentPeriodStart" TIMESTAMP,
            "ContractCommitmentPeriodEnd" TIMESTAMP,
            "ContractPeriodStart" TIMESTAMP,
            "ContractPeriodEnd" TIMESTAMP,
            "BillingCurrency" VARCHAR,
            "x_SourceId" VARCHAR,
            "x_IngestId" BIGINT
        )""",
        "ALTER TABLE ingests ADD COLUMN dataset VARCHAR DEFAULT 'CostAndUsage'",
    ]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "cost_line_items (FOCUS 1.4) and ingests", _v1),
    Migration(2, "contract_commitments (FOCUS 1.3+ ContractCommitment) and ingests.dataset", _v2),
)
LATEST = MIGRATIONS[-1].version


def _run(con: Any, sql: str, params: Any = None) -> list[Any]:
    return list(con.execute(sql, params).fetchall())


def current_version(con: Any) -> int:
    _run(
        con,
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)",
    )
    rows = _run(con, "SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(rows[0][0])


def migrate(con: Any, target: int = LATEST) -> int:
    """Apply every migration above the file's version up to ``target``; return the new version."""
    version = current_version(con)
    for m in MIGRATIONS:
        if version < m.version <= target:
            _run(con, "BEGIN TRANSACTION")
            try:
                for statement in m.statements():
                    _run(con, statement)
                _run(
                    con,
                    "INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)",
                    [m.version, m.description],
                )
                _run(con, "COMMIT")
            except BaseException:
                _run(con, "ROLLBACK")
                raise
            version = m.version
    return version
