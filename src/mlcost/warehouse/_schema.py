"""The canonical table shapes: FOCUS 1.4 Cost and Usage columns plus our ``x_`` columns.

The FOCUS facts (name, data type, feature level, version introduced) are from the FOCUS
specification (FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, ``specification/``; FOCUS 1.4 ratified
2026-06-04). Column names are exactly the spec's, so the table can be exported as FOCUS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "decimal", "timestamp", "json", "tags"]

# DuckDB types for each kind. Money and quantities are exact decimals: 26 integer digits
# and 12 fractional digits cover per-request prices such as $0.0000000035.
DUCKDB_TYPES: dict[Kind, str] = {
    "string": "VARCHAR",
    "decimal": "DECIMAL(38, 12)",
    "timestamp": "TIMESTAMP",  # always UTC; offsets are converted on ingest
    "json": "JSON",
    "tags": "MAP(VARCHAR, VARCHAR)",
}


@dataclass(frozen=True)
class FocusColumn:
    """One FOCUS Cost and Usage column: its type, whether it is Mandatory, and since when."""

    name: str
    kind: Kind
    mandatory: bool
    since: tuple[int, int]


def _c(name: str, kind: Kind, mandatory: bool, since: str) -> FocusColumn:
    major, minor = since.split(".")
    return FocusColumn(name, kind, mandatory, (int(major), int(minor)))


# FOCUS 1.4 Cost and Usage, in the spec's alphabetical order.
FOCUS_COLUMNS: tuple[FocusColumn, ...] = (
    _c("AllocatedMethodDetails", "json", False, "1.3"),
    _c("AllocatedMethodId", "string", False, "1.3"),
    _c("AllocatedResourceId", "string", False, "1.3"),
    _c("AllocatedResourceName", "string", False, "1.3"),
    _c("AllocatedTags", "tags", False, "1.3"),
    _c("AvailabilityZone", "string", False, "0.5"),
    _c("BilledCost", "decimal", True, "0.5"),
    _c("BillingAccountId", "string", True, "0.5"),
    _c("BillingAccountName", "string", True, "0.5"),
    _c("BillingAccountType", "string", False, "1.2"),
    _c("BillingCurrency", "string", True, "0.5"),
    _c("BillingPeriodEnd", "timestamp", True, "0.5"),
    _c("BillingPeriodStart", "timestamp", True, "0.5"),
    _c("CapacityReservationId", "string", False, "1.1"),
    _c("CapacityReservationStatus", "string", False, "1.1"),
    _c("ChargeCategory", "string", True, "0.5"),
    _c("ChargeClass", "string", True, "1.0"),
    _c("ChargeDescription", "string", True, "1.0"),
    _c("ChargeFrequency", "string", False, "1.0"),
    _c("ChargePeriodEnd", "timestamp", True, "0.5"),
    _c("ChargePeriodStart", "timestamp", True, "0.5"),
    _c("CommitmentDiscountCategory", "string", False, "1.0"),
    _c("CommitmentDiscountId", "string", False, "1.0"),
    _c("CommitmentDiscountName", "string", False, "1.0"),
    _c("CommitmentDiscountQuantity", "decimal", False, "1.1"),
    _c("CommitmentDiscountStatus", "string", False, "1.0"),
    _c("CommitmentDiscountType", "string", False, "1.0"),
    _c("CommitmentDiscountUnit", "string", False, "1.1"),
    _c("CommitmentProgramEligibilityDetails", "json", False, "1.4"),
    _c("ConsumedQuantity", "decimal", False, "1.0"),
    _c("ConsumedUnit", "string", False, "1.0"),
    _c("ContractApplied", "json", False, "1.3"),
    _c("ContractedCost", "decimal", True, "1.0"),
    _c("ContractedUnitPrice", "decimal", False, "1.0"),
    _c("EffectiveCost", "decimal", True, "0.5"),
    _c("HostProviderName", "string", True, "1.3"),
    _c("InvoiceDetailId", "string", False, "1.4"),
    _c("InvoiceId", "string", False, "1.2"),
    _c("InvoiceIssuerName", "string", True, "0.5"),
    _c("ListCost", "decimal", True, "1.0"),
    _c("ListUnitPrice", "decimal", False, "1.0"),
    _c("PricingCategory", "string", False, "1.0"),
    _c("PricingCurrency", "string", False, "1.2"),
    _c("PricingCurrencyContractedUnitPrice", "decimal", False, "1.2"),
    _c("PricingCurrencyEffectiveCost", "decimal", False, "1.2"),
    _c("PricingCurrencyListUnitPrice", "decimal", False, "1.2"),
    _c("PricingQuantity", "decimal", True, "1.0"),
    _c("PricingUnit", "string", True, "1.0"),
    _c("RegionId", "string", False, "1.0"),
    _c("RegionName", "string", False, "1.0"),
    _c("ResourceId", "string", False, "0.5"),
    _c("ResourceName", "string", False, "0.5"),
    _c("ResourceType", "string", False, "1.0"),
    _c("ServiceCategory", "string", True, "0.5"),
    _c("ServiceName", "string", True, "0.5"),
    _c("ServiceProviderName", "string", True, "1.3"),
    _c("ServiceSubcategory", "string", False, "1.1"),
    _c("SkuId", "string", False, "1.0"),
    _c("SkuMeter", "string", False, "1.1"),
    _c("SkuPriceDetails", "json", False, "1.1"),
    _c("SkuPriceId", "string", False, "1.0"),
    _c("SubAccountId", "string", False, "0.5"),
    _c("SubAccountName", "string", False, "0.5"),
    _c("SubAccountType", "string", False, "1.2"),
    _c("Tags", "tags", False, "1.0"),
)

# Our own columns (the spec's x_ prefix). Other x_ columns found in a file are added as text.
X_COLUMNS: tuple[tuple[str, str], ...] = (
    ("x_SourceId", "VARCHAR"),  # where the row came from: "<source>:<file path>"
    ("x_IngestId", "BIGINT"),  # ingests.ingest_id of the load that wrote it
    ("x_ProviderName", "VARCHAR"),  # FOCUS <=1.3 ProviderName, kept as it was written
    ("x_PublisherName", "VARCHAR"),  # FOCUS <=1.3 PublisherName, kept as it was written
    ("x_GpuModel", "VARCHAR"),  # canonical GPU model, e.g. "H100"
    ("x_GpuCount", "DECIMAL(18, 6)"),  # GPUs in the resource; fractions for MIG/time-slicing
    ("x_InstanceType", "VARCHAR"),  # e.g. "p5.48xlarge"
)

FOCUS_BY_NAME: dict[str, FocusColumn] = {c.name: c for c in FOCUS_COLUMNS}
X_TYPES: dict[str, str] = dict(X_COLUMNS)


def cost_line_items_ddl() -> str:
    cols = [f'"{c.name}" {DUCKDB_TYPES[c.kind]}' for c in FOCUS_COLUMNS]
    cols += [f'"{name}" {sql_type}' for name, sql_type in X_COLUMNS]
    return "CREATE TABLE cost_line_items (\n  " + ",\n  ".join(cols) + "\n)"


# The daily rollup of cost_line_items (table ``cost_daily``): the dimensions most spend
# questions group or filter by, one row per day and combination, with the four cost metrics
# summed. ``spend`` answers from it when every asked dimension is here and the window is whole
# days; anything else (tags, resources, hours) reads the line items. The warehouse keeps it in
# step with cost_line_items inside the same transaction as every write (docs/ingest.md).
ROLLUP_TABLE = "cost_daily"
ROLLUP_STATE = "cost_daily_state"  # one row: whether cost_daily matches the line items
ROLLUP_DIMENSIONS: tuple[str, ...] = (
    "BillingAccountId",
    "SubAccountId",
    "ServiceProviderName",
    "HostProviderName",
    "InvoiceIssuerName",
    "ServiceCategory",
    "ServiceSubcategory",
    "ServiceName",
    "RegionId",
    "ChargeCategory",
    "PricingCategory",
    "x_GpuModel",
    "BillingCurrency",
)
ROLLUP_METRICS: tuple[str, ...] = ("EffectiveCost", "BilledCost", "ListCost", "ContractedCost")


def rollup_ddl() -> str:
    """``CREATE TABLE cost_daily``: day, ingest, the rollup dimensions, the summed metrics."""
    dims = ",\n  ".join(f'"{d}" VARCHAR' for d in ROLLUP_DIMENSIONS)
    sums = ",\n  ".join(f'"{m}" DECIMAL(38, 12)' for m in ROLLUP_METRICS)
    return (
        f"CREATE TABLE {ROLLUP_TABLE} (\n  ChargeDay DATE,\n  x_IngestId BIGINT,\n"
        # a commitment purchase row, which spend leaves out of every metric but BilledCost
        f"  x_CommitmentPurchase BOOLEAN NOT NULL,\n  {dims},\n  {sums},\n"
        "  x_Rows BIGINT NOT NULL\n)"
    )


def rollup_select(where: str = "", extra: Sequence[str] = ()) -> str:
    """The SELECT that computes rollup rows from cost_line_items (optionally ``where``);
    ``extra``: more grouping expressions (``<sql> AS <name>``) after the rollup's own."""
    dims = ", ".join([*(f'"{d}"' for d in ROLLUP_DIMENSIONS), *extra])
    sums = ", ".join(f'sum("{m}") AS "{m}"' for m in ROLLUP_METRICS)
    return (
        "SELECT CAST(ChargePeriodStart AS DATE) AS ChargeDay, x_IngestId, "
        "(ChargeCategory IS NOT DISTINCT FROM 'Purchase' AND CommitmentDiscountId IS NOT NULL)"
        f" AS x_CommitmentPurchase, {dims}, {sums}, count(*) AS x_Rows "
        f"FROM cost_line_items {where} GROUP BY ALL"
    )
