"""Versioned schema migrations, applied in order when a warehouse is opened.

Never edit a released migration: add a new one. Each runs in its own transaction together with
the row that records it in ``schema_migrations``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlcost.warehouse._schema import (
    ROLLUP_STATE,
    ROLLUP_TABLE,
    cost_line_items_ddl,
    rollup_ddl,
    rollup_select,
)


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


def _v3() -> list[str]:
    # GPU telemetry, workloads and tracker cache counters (issue 5). Raw resource names stay
    # as the source wrote them; the views below resolve them to billed resources on read, so
    # loading a bill after its telemetry links them without rewriting samples.
    return [
        """CREATE TABLE gpu_samples (
            time TIMESTAMP NOT NULL,          -- start of the sample bucket, UTC
            resolution_s INTEGER NOT NULL,    -- bucket width; raw samples inside are summarized
            resource_id VARCHAR NOT NULL,     -- host as the source names it (file, Hostname, ...)
            gpu_index INTEGER,
            gpu_uuid VARCHAR,
            gpu_model VARCHAR,                -- canonical, e.g. 'H100', 'A100-40GB'
            utilization DOUBLE,               -- mean over the bucket, 0..1
            utilization_min DOUBLE,
            utilization_max DOUBLE,
            memory_used_bytes BIGINT,         -- mean over the bucket
            memory_used_max_bytes BIGINT,
            memory_total_bytes BIGINT,
            power_watts DOUBLE,               -- mean over the bucket
            sample_count INTEGER NOT NULL,    -- raw samples summarized in this row
            labels MAP(VARCHAR, VARCHAR),     -- pod, namespace, container, job_id, run_id
            source VARCHAR NOT NULL,
            ingest_id BIGINT NOT NULL
        )""",
        """CREATE TABLE workloads (
            workload_id VARCHAR NOT NULL,     -- '<source>:<id in that system>'
            source VARCHAR NOT NULL,
            kind VARCHAR,                     -- training, fine-tuning, inference, batch, notebook
            name VARCHAR,
            status VARCHAR,
            start TIMESTAMP,
            "end" TIMESTAMP,                  -- null while running
            resource_id VARCHAR,              -- billed ResourceId or instance id, when known
            node VARCHAR,                     -- node / host name, when known
            cluster VARCHAR,
            owner VARCHAR,                    -- user
            gpu_count DOUBLE,                 -- GPUs requested; fractions for MIG / time-slicing
            gpu_model VARCHAR,
            instance_type VARCHAR,
            gpu_hours DOUBLE,
            used_gpu_hours DOUBLE,
            experiment VARCHAR,
            run_id VARCHAR,
            tags MAP(VARCHAR, VARCHAR),
            params MAP(VARCHAR, VARCHAR),
            metrics MAP(VARCHAR, DOUBLE),
            requests DOUBLE,                  -- inference requests served
            tokens DOUBLE,                    -- inference tokens served
            cost DECIMAL(38, 12),             -- what the source says the workload cost
            currency VARCHAR,
            ingest_id BIGINT NOT NULL
        )""",
        """CREATE TABLE cache_stats (
            time TIMESTAMP NOT NULL,
            run_id VARCHAR,
            cache VARCHAR NOT NULL,
            hits BIGINT,
            misses BIGINT,
            saved_seconds DOUBLE,
            saved DECIMAL(38, 12),
            currency VARCHAR,
            source VARCHAR NOT NULL,
            ingest_id BIGINT NOT NULL
        )""",
        # One row per billed resource. Keys a telemetry host or workload may be known by:
        # the ResourceId itself, its last path segment (instance id / VM name) and ResourceName.
        """CREATE VIEW billed_resources AS
            SELECT "ResourceId" AS billed_resource_id,
                   any_value("ResourceName") AS resource_name,
                   any_value("ServiceProviderName") AS provider,
                   any_value(x_InstanceType) AS instance_type,
                   any_value(x_GpuModel) AS gpu_model,
                   max(x_GpuCount) AS gpu_count
            FROM cost_line_items WHERE "ResourceId" IS NOT NULL GROUP BY 1""",
        """CREATE VIEW resource_keys AS
            SELECT lower(billed_resource_id) AS key, billed_resource_id, 'resource_id' AS rule,
                   1 AS priority FROM billed_resources
            UNION ALL
            SELECT lower(regexp_extract(billed_resource_id, '[^/:]+$')), billed_resource_id,
                   'instance_id', 2 FROM billed_resources
            UNION ALL
            SELECT lower(resource_name), billed_resource_id, 'resource_name', 3
            FROM billed_resources WHERE resource_name IS NOT NULL""",
        # What telemetry and workloads name, and how many rows name it.
        """CREATE VIEW observed_resources AS
            SELECT 'gpu_samples' AS "table", resource_id AS name, count(*) AS rows
            FROM gpu_samples GROUP BY resource_id
            UNION ALL
            SELECT 'workloads', coalesce(resource_id, node), count(*)
            FROM workloads GROUP BY coalesce(resource_id, node)""",
        # Each observed name resolved by the best rule: exact id, instance id, resource name,
        # then the first DNS label of a host name (gpu-7.cluster.local -> gpu-7).
        """CREATE VIEW resource_links AS
            SELECT name, billed_resource_id, rule FROM (
                SELECT o.name, k.billed_resource_id, k.rule,
                       row_number() OVER (PARTITION BY o.name
                                          ORDER BY k.priority, k.billed_resource_id) AS pick
                FROM (SELECT DISTINCT name FROM observed_resources WHERE name IS NOT NULL) o
                JOIN resource_keys k
                  ON k.key = lower(o.name)
                  OR k.key = lower(regexp_extract(o.name, '[^/:]+$'))
                  OR k.key = lower(split_part(o.name, '.', 1))
            ) WHERE pick = 1""",
    ]


# Attribution (issue 6): what allocated_costs adds to the columns of cost_line_items.
ALLOCATED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("x_OriginRow", "BIGINT"),  # the origin charge, numbered within one build
    ("x_AllocatedRatio", "DOUBLE"),  # share of the origin charge, 0..1
    ("x_Bucket", "VARCHAR"),  # direct, gpu_used, gpu_idle, gpu_unmeasured, ...
    ("x_OwnerKey", "VARCHAR"),  # the tag key owners were taken from, e.g. team
    ("x_Owner", "VARCHAR"),  # its value; NULL: nobody (the unallocated bucket)
    ("x_WorkloadId", "VARCHAR"),  # workloads.workload_id, or resource:<ResourceId>
    ("x_WorkloadType", "VARCHAR"),  # training, fine-tuning, inference, ...
    ("x_GpuHours", "DOUBLE"),  # GPU-hours of this share
    ("x_Utilization", "DOUBLE"),  # mean measured GPU utilization, 0..1
    ("x_BuiltAt", "TIMESTAMP"),
)


def _v4() -> list[str]:
    # Attribution (issue 6): the bill split into owners, FOCUS 1.3 split-cost-allocation shaped.
    # Every column of cost_line_items as it is now (the origin charge's dimensions; summable
    # metrics hold the allocated share), plus what the split says about the share.
    return [
        "CREATE TABLE allocated_costs AS SELECT * FROM cost_line_items LIMIT 0",
        *(
            f'ALTER TABLE allocated_costs ADD COLUMN "{name}" {sql_type}'
            for name, sql_type in ALLOCATED_COLUMNS
        ),
    ]


def _v5() -> list[str]:
    return [
        # One row per alert ever raised. The key (budget|period|kind|threshold, or
        # insight|<id>) is the primary key, so a threshold fires once per budget per period
        # however often and from however many processes the evaluation runs.
        """CREATE TABLE alerts (
            alert_key VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,          -- budget, insight
            subject VARCHAR NOT NULL,         -- the budget's name, or the insight's id
            period_start DATE,
            kind VARCHAR NOT NULL,            -- actual, forecast, insight
            threshold DOUBLE,                 -- fraction of the budget, 1.0 = 100%
            amount DOUBLE,                    -- spent or forecast when it fired
            limit_amount DOUBLE,
            currency VARCHAR,
            message VARCHAR NOT NULL,
            payload VARCHAR NOT NULL,         -- JSON sent to the channels
            created_at TIMESTAMP NOT NULL
        )""",
        # One row per alert and channel: pending until delivered; a failure keeps it pending
        # for the next run, with the attempts and last error.
        """CREATE TABLE alert_deliveries (
            alert_key VARCHAR NOT NULL,
            channel VARCHAR NOT NULL,
            status VARCHAR NOT NULL,          -- pending, sent
            attempts INTEGER NOT NULL,
            last_error VARCHAR,
            last_attempt_at TIMESTAMP,
            sent_at TIMESTAMP,
            PRIMARY KEY (alert_key, channel)
        )""",
        # The audit of every guardrail decision: who/what/why and how it ended.
        """CREATE TABLE actions (
            acted_at TIMESTAMP NOT NULL,
            actor VARCHAR NOT NULL,           -- user@host that ran the check
            policy VARCHAR NOT NULL,
            resource_id VARCHAR NOT NULL,
            action VARCHAR NOT NULL,          -- stop, terminate, scale-to-zero, ...
            executor VARCHAR,
            mode VARCHAR NOT NULL,            -- dry-run, execute
            outcome VARCHAR NOT NULL,         -- executed, skipped, failed, would-act, unsupported
            reason VARCHAR NOT NULL,          -- why the policy matched
            detail VARCHAR                    -- why skipped / the error / the API's answer
        )""",
    ]


def _v6() -> list[str]:
    # Insights (issue 7): one row per finding, keyed by its stable id, so a rerun updates the
    # row (saving, evidence, last_seen) instead of adding a second one.
    return [
        """CREATE TABLE recommendations (
            id VARCHAR PRIMARY KEY,           -- stable: hash of kind and what the finding is about
            kind VARCHAR NOT NULL,            -- idle_gpu, runaway, spot, anomaly, ...
            resource_id VARCHAR,              -- FOCUS ResourceId, when it concerns one resource
            owner VARCHAR,
            saving_low DECIMAL(38, 6),        -- monthly saving range
            saving_expected DECIMAL(38, 6),
            saving_high DECIMAL(38, 6),
            currency VARCHAR,
            confidence DOUBLE,                -- 0..1
            action VARCHAR,
            evidence VARCHAR,                 -- JSON object: spans, figures, prices, query
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL
        )""",
    ]


def _v7() -> list[str]:
    # API tokens of `mlcost serve` (issue 9): only a hash of each secret is kept, so a copy of
    # the warehouse file grants nothing; revoking keeps the row for the record.
    return [
        """CREATE TABLE api_tokens (
            token_id VARCHAR PRIMARY KEY,     -- public part of the token, shown by `tokens list`
            name VARCHAR NOT NULL,
            scopes VARCHAR NOT NULL,          -- space-separated: admin, read:all, read:team:<t>
            secret_sha256 VARCHAR NOT NULL,   -- hex SHA-256 of the whole token string
            created_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP
        )""",
    ]


def _v8() -> list[str]:
    # Metric history of experiment-tracker runs (issue 7, early stopping): one row per logged
    # value, so a detector can see where a run's validation metric stopped improving. A newer
    # load of a run replaces its rows (like workloads). Version 7 is the API tokens.
    return [
        """CREATE TABLE run_metrics (
            workload_id VARCHAR NOT NULL,     -- workloads.workload_id of the run
            key VARCHAR NOT NULL,             -- metric name, e.g. 'eval_loss'
            step BIGINT,                      -- training step, when logged
            time TIMESTAMP,                   -- when logged, UTC
            value DOUBLE NOT NULL,
            source VARCHAR NOT NULL,
            ingest_id BIGINT NOT NULL
        )""",
    ]


def _v9() -> list[str]:
    # The daily rollup that spend answers from; filled from the line items already loaded.
    return [
        rollup_ddl(),
        f"INSERT INTO {ROLLUP_TABLE} {rollup_select()}",
        f"CREATE TABLE {ROLLUP_STATE} (current BOOLEAN NOT NULL)",
        f"INSERT INTO {ROLLUP_STATE} VALUES (true)",
    ]


def _v10() -> list[str]:
    # Savings plan (issue 20): whether a finding's money recurs each month or was spent once,
    # and when a stored finding stopped holding (closed, its row kept; reopened when it
    # comes back).
    return [
        "ALTER TABLE recommendations ADD COLUMN saving_type VARCHAR",
        "ALTER TABLE recommendations ADD COLUMN closed_at TIMESTAMP",
        "UPDATE recommendations SET saving_type = CASE WHEN kind IN "
        "('anomaly', 'early_stop', 'runaway') THEN 'one_off' ELSE 'recurring' END",
    ]


def _v11() -> list[str]:
    # Tokens with an optional expiry (issue 22): refused after it.
    return ["ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP"]


def _v12() -> list[str]:
    # Bills fetched from object stores (issue 27): one row per delivery seen at a URL, so an
    # unchanged delivery (same manifest, same ETag) is skipped without downloading it again,
    # and so `watch` can say how fresh each source is.
    return [
        """CREATE TABLE remote_deliveries (
            source_url VARCHAR NOT NULL,      -- s3://bucket/prefix/, az://container/path
            delivery_key VARCHAR NOT NULL,    -- manifest key @ ETag (or the folder's content)
            provider VARCHAR NOT NULL,        -- aws, azure, files
            export_name VARCHAR,
            billing_period VARCHAR,           -- YYYY-MM, as the delivery names it
            delivery_id VARCHAR,              -- executionId (AWS), runId (Azure)
            delivered_at TIMESTAMP NOT NULL,  -- when the provider wrote it (UTC)
            status VARCHAR NOT NULL,          -- loaded, superseded, incomplete
            files VARCHAR NOT NULL,           -- JSON list of the object keys it lists
            bytes BIGINT,
            ingest_id BIGINT,                 -- ingests.ingest_id of the load (loaded only)
            seen_at TIMESTAMP NOT NULL,
            PRIMARY KEY (source_url, delivery_key)
        )""",
    ]


# Tokens of LLM API bills (issue 25), summable per row: each row carries the tokens its cost
# covers. Typed, so per-token prices need no cast; absent on rows of other bills.
TOKEN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("x_InputTokens", "BIGINT"),  # input tokens billed at the uncached input price
    ("x_CachedInputTokens", "BIGINT"),  # input tokens read from the provider's prompt cache
    ("x_CacheWriteTokens", "BIGINT"),  # input tokens written to the cache (Anthropic)
    ("x_OutputTokens", "BIGINT"),  # output (generated) tokens, reasoning included
)


def _v13() -> list[str]:
    # Serving metrics (issue 25): tokens, requests and engine time per endpoint, model and
    # (from a gateway's log) tenant, per hour; and the token split of LLM API bills.
    return [
        """CREATE TABLE served_tokens (
            ts TIMESTAMP NOT NULL,            -- start of the hour (UTC) the counts fall in
            source VARCHAR NOT NULL,          -- vllm, tgi, triton (engine counters), litellm
            endpoint VARCHAR NOT NULL,        -- host / deployment serving it (links to the bill)
            model VARCHAR,                    -- served model (or adapter) name
            tenant VARCHAR,                   -- team / key from a gateway log; NULL: all tenants
            input_tokens BIGINT,              -- prompt (prefill) tokens; NULL: not reported
            output_tokens BIGINT,             -- generated tokens; NULL: not reported
            requests BIGINT,                  -- successful requests
            prefill_seconds DOUBLE,           -- engine time in prefill, where reported
            decode_seconds DOUBLE,            -- engine time in decode, where reported
            row_key VARCHAR,                  -- source|endpoint|model|tenant|ts: a newer load wins
            ingest_id BIGINT                  -- the load that wrote it (NULL: written otherwise)
        )""",
        *(
            f'ALTER TABLE cost_line_items ADD COLUMN IF NOT EXISTS "{name}" {sql_type}'
            for name, sql_type in TOKEN_COLUMNS
        ),
        # Served endpoints link to billed resources as the other observed names do.
        """CREATE OR REPLACE VIEW observed_resources AS
            SELECT 'gpu_samples' AS "table", resource_id AS name, count(*) AS rows
            FROM gpu_samples GROUP BY resource_id
            UNION ALL
            SELECT 'workloads', coalesce(resource_id, node), count(*)
            FROM workloads GROUP BY coalesce(resource_id, node)
            UNION ALL
            SELECT 'served_tokens', endpoint, count(*)
            FROM served_tokens GROUP BY endpoint""",
    ]


def _v14() -> list[str]:
    # Guardrails with notice and grace (issue 21): a resource that violates a policy is
    # marked with a deadline (Cloud Custodian's mark-for-op); the mark is closed when the
    # action ran, the violation ended or the resource was kept. Exemptions keep a resource
    # until a time (or for good) with who and why. Every step also has its `actions` row.
    return [
        """CREATE TABLE policy_marks (
            policy VARCHAR NOT NULL,
            resource_id VARCHAR NOT NULL,     -- what the policy acts on (billed id, slurm:<job>)
            marked_at TIMESTAMP NOT NULL,     -- the data moment of the first violation
            deadline TIMESTAMP NOT NULL,      -- marked_at + the policy's grace
            actor VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            closed_at TIMESTAMP,              -- NULL while the mark is open
            closed_why VARCHAR,               -- acted, ok (no longer violates), exempt, ...
            PRIMARY KEY (policy, resource_id, marked_at)
        )""",
        """CREATE TABLE policy_exemptions (
            resource_id VARCHAR NOT NULL,     -- the billed ResourceId (or a workload id)
            policy VARCHAR,                   -- NULL: every policy
            until TIMESTAMP,                  -- NULL: for good
            reason VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        )""",
    ]


def _v15() -> list[str]:
    # Showback at ingest speed (issue 26): what each month's allocated_costs was built from,
    # so a month whose inputs did not change is not allocated again.
    return [
        """CREATE TABLE allocation_builds (
            period_start TIMESTAMP PRIMARY KEY,  -- the month (allocated_costs' window)
            owner_key VARCHAR NOT NULL,
            inputs VARCHAR NOT NULL,          -- sha256 over the month's inputs and the rules
            row_count BIGINT NOT NULL,
            built_at TIMESTAMP NOT NULL,      -- allocated then
            checked_at TIMESTAMP NOT NULL     -- inputs last found unchanged
        )""",
    ]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "cost_line_items (FOCUS 1.4) and ingests", _v1),
    Migration(2, "contract_commitments (FOCUS 1.3+ ContractCommitment) and ingests.dataset", _v2),
    Migration(
        3, "gpu_samples, workloads, cache_stats; views linking them to billed resources", _v3
    ),
    Migration(4, "allocated_costs (FOCUS 1.3 split cost allocation shape)", _v4),
    Migration(5, "alerts, alert_deliveries (exactly-once budget alerts) and actions (audit)", _v5),
    Migration(6, "recommendations (insights, keyed by a stable finding id)", _v6),
    Migration(7, "api_tokens (hashed API tokens with scopes for mlcost serve)", _v7),
    Migration(8, "run_metrics (metric history of tracker runs, for early stopping)", _v8),
    Migration(9, "cost_daily: the daily rollup of cost_line_items that spend reads", _v9),
    Migration(10, "recommendations.saving_type (recurring, one_off) and closed_at", _v10),
    Migration(11, "api_tokens.expires_at (tokens with an optional expiry)", _v11),
    Migration(12, "remote_deliveries (bills fetched from S3 / Azure Storage by URL)", _v12),
    Migration(13, "served_tokens (serving metrics) and LLM bills' token columns", _v13),
    Migration(14, "policy_marks and policy_exemptions (notice, grace, exemptions)", _v14),
    Migration(15, "allocation_builds (what each month's allocation was built from)", _v15),
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
