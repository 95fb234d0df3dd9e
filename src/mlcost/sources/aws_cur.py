"""AWS Cost and Usage Report (legacy CUR CSV ``lineItem/UnblendedCost`` and CUR 2.0 Parquet
``line_item_unblended_cost``) → FOCUS rows.

Both spellings normalize to CUR 2.0 snake case. The mapping follows the FinOps Foundation's
focus_converters ``aws-cur`` configs and AWS's own FOCUS export: BilledCost is the unblended
cost (net where present); EffectiveCost is the Savings Plan / reservation effective cost on
covered usage, 0 on negations and upfront/recurring commitment fees, else the unblended cost;
ListCost is the public on-demand cost; line item types map to ChargeCategory; spot usage is
Dynamic pricing; ``resourceTags/user:*`` columns (or the CUR 2.0 ``resource_tags`` map) become
Tags; ``product/instanceType`` is ``x_InstanceType``.
"""

from __future__ import annotations

from typing import Any

from mlcost.sources._common import NATIVE_BILLS, Source
from mlcost.sources._native import (
    NativeFormat,
    cases,
    columns_as_map,
    entry_points,
    first,
    lit,
    snake,
)

NAME = "aws-cur"
DESCRIPTION = "AWS Cost and Usage Report, legacy CSV or CUR 2.0 Parquet → FOCUS rows"

_CATEGORY = (
    ("Usage", "Usage"),
    ("DiscountedUsage", "Usage"),
    ("SavingsPlanCoveredUsage", "Usage"),
    ("Tax", "Tax"),
    ("Fee", "Purchase"),
    ("RIFee", "Purchase"),
    ("SavingsPlanRecurringFee", "Purchase"),
    ("SavingsPlanUpfrontFee", "Purchase"),
    ("Credit", "Credit"),
    ("Refund", "Credit"),
    ("SavingsPlanNegation", "Credit"),
    ("BundledDiscount", "Credit"),
    ("EdpDiscount", "Credit"),
    ("PrivateRateDiscount", "Credit"),
)
_SERVICE_CATEGORY = (
    ("AmazonEC2", "Compute"),
    ("AWSLambda", "Compute"),
    ("AmazonECS", "Compute"),
    ("AmazonEKS", "Compute"),
    ("AmazonSageMaker", "AI and Machine Learning"),
    ("AmazonBedrock", "AI and Machine Learning"),
    ("AmazonS3", "Storage"),
    ("AmazonEFS", "Storage"),
    ("AmazonRDS", "Databases"),
    ("AmazonDynamoDB", "Databases"),
    ("AWSDataTransfer", "Networking"),
    ("AmazonVPC", "Networking"),
    ("AmazonCloudWatch", "Management and Governance"),
    ("AWSCloudTrail", "Management and Governance"),
)


def _mapping(col: Any, t: Any) -> dict[str, Any]:
    import ibis
    import ibis.expr.datatypes as dt

    kind = col("line_item_line_item_type").cast("string")
    unblended = col("line_item_unblended_cost").cast(dt.Decimal(38, 12))
    net = col("line_item_net_unblended_cost")
    billed = unblended if net is None else ibis.coalesce(net.cast(dt.Decimal(38, 12)), unblended)

    def dec(name: str) -> Any:
        c = col(name)
        return None if c is None else c.cast(dt.Decimal(38, 12))

    sp_cost, ri_cost = (
        dec("savings_plan_savings_plan_effective_cost"),
        dec("reservation_effective_cost"),
    )
    zero = ibis.literal(0, type=dt.Decimal(38, 12))
    effective = ibis.cases(
        (kind == "SavingsPlanCoveredUsage", sp_cost if sp_cost is not None else unblended),
        (kind == "DiscountedUsage", ri_cost if ri_cost is not None else unblended),
        (
            kind.isin(["SavingsPlanNegation", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee"]),
            zero,
        ),
        else_=unblended,
    )
    usage_type = first(col("line_item_usage_type"), lit("")).cast("string")
    term = col("pricing_term")
    pricing = ibis.cases(
        (kind.isin(["DiscountedUsage", "SavingsPlanCoveredUsage"]), "Committed"),
        (usage_type.contains("SpotUsage"), "Dynamic"),
        (kind == "Usage", "Standard"),
        else_=ibis.null("string"),
    )
    if term is not None:
        pricing = ibis.ifelse(term.cast("string") == "Spot", "Dynamic", pricing)
    product = col("line_item_product_code")
    list_cost = dec("pricing_public_on_demand_cost")
    tag_cols = [c for c in t.columns if snake(c).startswith("resource_tags_user_")]
    tags = col("resource_tags")
    if tags is None and tag_cols:
        keys = [
            c.split(":", 1)[-1] if ":" in c else snake(c)[len("resource_tags_user_") :]
            for c in tag_cols
        ]
        tags = columns_as_map(t, tag_cols, keys)
    # A Marketplace line's seller is its ServiceProviderName; AWS hosts it.
    entity, seller = col("bill_billing_entity"), col("line_item_legal_entity")
    service_provider = lit("AWS")
    if entity is not None and seller is not None:
        service_provider = ibis.ifelse(
            entity.cast("string") == "AWS Marketplace", seller.cast("string"), "AWS"
        )
    return {
        "BilledCost": billed,
        "EffectiveCost": effective,
        "ListCost": list_cost if list_cost is not None else unblended,
        "ContractedCost": unblended,
        "ListUnitPrice": col("pricing_public_on_demand_rate"),
        "ContractedUnitPrice": col("line_item_unblended_rate"),
        "BillingAccountId": col("bill_payer_account_id"),
        "BillingAccountName": col("bill_payer_account_name"),
        "SubAccountId": col("line_item_usage_account_id"),
        "SubAccountName": col("line_item_usage_account_name"),
        "BillingCurrency": col("line_item_currency_code"),
        "BillingPeriodStart": col("bill_billing_period_start_date"),
        "BillingPeriodEnd": col("bill_billing_period_end_date"),
        "ChargePeriodStart": col("line_item_usage_start_date"),
        "ChargePeriodEnd": col("line_item_usage_end_date"),
        "ChargeCategory": cases(kind, _CATEGORY, "Usage"),
        "ChargeClass": ibis.ifelse(kind == "Refund", "Correction", ibis.null("string")),
        "ChargeDescription": col("line_item_line_item_description"),
        "ChargeFrequency": ibis.cases(
            (kind.isin(["RIFee", "SavingsPlanRecurringFee"]), "Recurring"),
            (kind.isin(["Fee", "SavingsPlanUpfrontFee"]), "One-Time"),
            else_="Usage-Based",
        ),
        "PricingCategory": pricing,
        "CommitmentDiscountId": first(
            col("savings_plan_savings_plan_a_r_n"),
            col("savings_plan_savings_plan_arn"),
            col("reservation_reservation_a_r_n"),
            col("reservation_reservation_arn"),
        ),
        "ConsumedQuantity": col("line_item_usage_amount"),
        "ConsumedUnit": col("pricing_unit"),
        "PricingQuantity": col("line_item_usage_amount"),
        "PricingUnit": col("pricing_unit"),
        "RegionId": first(col("product_region_code"), col("product_region")),
        "RegionName": col("product_location"),
        "AvailabilityZone": col("line_item_availability_zone"),
        "ResourceId": col("line_item_resource_id"),
        "ServiceName": first(col("product_product_name"), col("product_servicename"), product),
        "ServiceCategory": cases(product, _SERVICE_CATEGORY, "Other"),
        "SkuId": col("product_sku"),
        "SkuPriceId": col("pricing_rate_code"),
        "InvoiceId": col("bill_invoice_id"),
        "InvoiceIssuerName": first(col("bill_invoicing_entity"), lit("AWS")),
        "ServiceProviderName": service_provider,
        "HostProviderName": lit("AWS"),
        "Tags": tags,
        "x_InstanceType": col("product_instance_type"),
    }


FORMAT = NativeFormat(
    name=NAME,
    provider="AWS",
    required=("line_item_unblended_cost", "line_item_line_item_type", "bill_payer_account_id"),
    normalize=snake,
    mapping=_mapping,
)


detect, ingest = entry_points(FORMAT)
SOURCE = Source(NAME, DESCRIPTION, ("cost_line_items",), ingest, detect, stage=NATIVE_BILLS)
