"""Google Cloud billing export (the BigQuery standard usage cost schema), as CSV with dotted
column names (``service.description``) or as newline-delimited JSON → FOCUS rows.

Mapping as Google's FOCUS BigQuery view and the focus_converters ``gcp`` configs: ``cost``
is BilledCost; EffectiveCost adds the credits (JSON export: the ``credits`` amounts; CSV: a
``credits`` total column where present); ``invoice.month`` (YYYYMM) is the billing period;
``cost_type`` tax / adjustment map to ChargeCategory; the project is the sub-account;
``labels`` become Tags and the ``compute.googleapis.com/machine_spec`` system label is
``x_InstanceType`` (JSON export).
"""

from __future__ import annotations

from typing import Any

from mlcost.sources._common import NATIVE_BILLS, Source
from mlcost.sources._native import NativeFormat, cases, entry_points, first, lit, lower, plus

NAME = "gcp"
DESCRIPTION = "GCP billing export (BigQuery schema) as CSV or newline JSON → FOCUS rows"

_SERVICE_CATEGORY = (
    ("Compute Engine", "Compute"),
    ("Kubernetes Engine", "Compute"),
    ("Cloud Run", "Compute"),
    ("Cloud Storage", "Storage"),
    ("Vertex AI", "AI and Machine Learning"),
    ("BigQuery", "Analytics"),
    ("Networking", "Networking"),
    ("Cloud SQL", "Databases"),
)


def _pairs_to_map(value: Any) -> Any:
    """A BigQuery ``ARRAY<STRUCT<key, value>>`` as a map."""
    import ibis

    return ibis.map(value.map(lambda x: x.key), value.map(lambda x: x.value.cast("string")))


def _mapping(col: Any, t: Any) -> dict[str, Any]:
    import ibis
    import ibis.expr.datatypes as dt

    dec = dt.Decimal(38, 12)
    cost = col("cost").cast(dec)
    credits = col("credits")
    effective = cost
    if credits is not None and credits.type().is_array():
        total = credits.map(lambda c: c.amount.cast(dec)).sums()
        effective = plus(cost, total.fill_null(0))
    elif credits is not None:
        effective = plus(cost, credits.cast(dec).fill_null(0))
    month = col("invoice.month").cast("string")
    period = (month + "01").as_timestamp("%Y%m%d")
    labels, system = col("labels"), col("system_labels")
    tags = None
    if labels is not None and labels.type().is_array():
        tags = _pairs_to_map(labels)
    elif labels is not None:
        tags = labels.cast("string")
    machine = None
    if system is not None and system.type().is_array():
        spec = system.filter(lambda x: x.key == "compute.googleapis.com/machine_spec")
        machine = spec.map(lambda x: x.value)[0]
    cost_type = col("cost_type")
    sku = col("sku.description")
    return {
        "BilledCost": cost,
        "EffectiveCost": effective,
        "ListCost": cost,
        "ContractedCost": cost,
        "BillingAccountId": col("billing_account_id"),
        "SubAccountId": col("project.id"),
        "SubAccountName": col("project.name"),
        "BillingCurrency": col("currency"),
        "BillingPeriodStart": period,
        "BillingPeriodEnd": period + ibis.interval(months=1),
        "ChargePeriodStart": col("usage_start_time"),
        "ChargePeriodEnd": col("usage_end_time"),
        "ChargeCategory": cases(
            cost_type,
            (
                ("regular", "Usage"),
                ("tax", "Tax"),
                ("adjustment", "Adjustment"),
                ("rounding_error", "Adjustment"),
            ),
            "Usage",
        ),
        "ChargeDescription": sku,
        "ChargeFrequency": lit("Usage-Based"),
        "ConsumedQuantity": col("usage.amount"),
        "ConsumedUnit": col("usage.unit"),
        "PricingQuantity": first(col("usage.amount_in_pricing_units"), col("usage.amount")),
        "PricingUnit": first(col("usage.pricing_unit"), col("usage.unit")),
        "ContractedUnitPrice": col("price.effective_price"),
        "RegionId": first(col("location.region"), col("location.location")),
        "AvailabilityZone": col("location.zone"),
        "ResourceId": first(col("resource.global_name"), col("resource.name")),
        "ResourceName": col("resource.name"),
        "ServiceName": col("service.description"),
        "ServiceCategory": cases(col("service.description"), _SERVICE_CATEGORY, "Other"),
        "SkuId": col("sku.id"),
        "SkuMeter": sku,
        "InvoiceIssuerName": lit("Google"),
        "ServiceProviderName": lit("Google"),
        "HostProviderName": lit("Google"),
        "Tags": tags,
        "x_InstanceType": machine,
    }


FORMAT = NativeFormat(
    name=NAME,
    provider="Google",
    required=("billing_account_id", "cost", "usage_start_time", "service.description"),
    normalize=lower,
    mapping=_mapping,
    suffixes=(".csv", ".csv.gz", ".json", ".jsonl", ".json.gz", ".jsonl.gz", ".ndjson"),
)


detect, ingest = entry_points(FORMAT)
SOURCE = Source(NAME, DESCRIPTION, ("cost_line_items",), ingest, detect, stage=NATIVE_BILLS)
