"""Oracle Cloud (OCI) cost reports (``reports/cost-csv``) → FOCUS rows.

Mapping as the focus_converters ``oci`` configs and OCI's FOCUS reports: ``cost/myCost`` (plus
overage) is BilledCost and EffectiveCost, ``cost/unitPrice`` the unit price, the tenancy the
billing account, the compartment the sub-account, the calendar month of the usage interval
the billing period, ``lineItem/isCorrection`` a Correction, and every ``tags/<ns>.<key>``
column a tag. GPU shapes (``BM.GPU.A100-v2.8``) named in the product description become
``x_InstanceType``.
"""

from __future__ import annotations

from typing import Any

from mlcost.sources._common import NATIVE_BILLS, Source
from mlcost.sources._native import (
    NativeFormat,
    columns_as_map,
    entry_points,
    first,
    lit,
    lower,
    plus,
)

NAME = "oci"
DESCRIPTION = "Oracle Cloud cost reports (CSV) → FOCUS rows"


def _time(value: Any) -> Any:
    """OCI writes 2023-11-13T10:00Z (no seconds) as well as full RFC 3339."""
    import ibis

    text = value.cast("string")
    # No back-reference in the replacement: DuckDB writes it \1, Spark $1.
    return ibis.ifelse(text.re_search(r"T\d\d:\d\dZ$"), text.re_replace(r"Z$", ":00Z"), text)


def _mapping(col: Any, t: Any) -> dict[str, Any]:
    import ibis
    import ibis.expr.datatypes as dt

    dec = dt.Decimal(38, 12)
    cost = col("cost/mycost").cast(dec)
    overage = col("cost/mycostoverage")
    if overage is not None:
        cost = plus(cost, overage.cast(dec).fill_null(0))
    start = (
        _time(col("lineitem/intervalusagestart"))
        .cast(dt.Timestamp(timezone="UTC"))
        .cast(dt.timestamp)
    )
    month = start.truncate("M")
    tag_cols = [c for c in t.columns if c.lower().startswith("tags/")]
    tags = None
    if tag_cols:
        keys = [c.split("/", 1)[1] for c in tag_cols]
        tags = columns_as_map(t, tag_cols, keys)
    correction = col("lineitem/iscorrection")
    return {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ListUnitPrice": col("cost/unitprice"),
        "ContractedUnitPrice": col("cost/unitprice"),
        "BillingAccountId": col("lineitem/tenantid"),
        "SubAccountId": col("product/compartmentid"),
        "SubAccountName": col("product/compartmentname"),
        "BillingCurrency": col("cost/currencycode"),
        "BillingPeriodStart": month,
        "BillingPeriodEnd": month + ibis.interval(months=1),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": _time(col("lineitem/intervalusageend")),
        "ChargeCategory": lit("Usage"),
        "ChargeClass": ibis.ifelse(
            correction.cast("string").lower() == "true", "Correction", ibis.null("string")
        )
        if correction is not None
        else None,
        "ChargeDescription": col("product/description"),
        "ChargeFrequency": lit("Usage-Based"),
        "ConsumedQuantity": col("usage/billedquantity"),
        "ConsumedUnit": col("cost/skuunitdescription"),
        "PricingQuantity": col("usage/billedquantity"),
        "PricingUnit": first(col("cost/skuunitdescription"), col("cost/billingunitreadable")),
        "RegionId": col("product/region"),
        "AvailabilityZone": col("product/availabilitydomain"),
        "ResourceId": col("product/resourceid"),
        "ServiceName": col("product/service"),
        "ServiceCategory": lit("Other"),
        "SkuId": col("cost/productsku"),
        "InvoiceIssuerName": lit("Oracle"),
        "ServiceProviderName": lit("Oracle"),
        "HostProviderName": lit("Oracle"),
        "Tags": tags,
    }


FORMAT = NativeFormat(
    name=NAME,
    provider="Oracle",
    required=("lineitem/tenantid", "cost/mycost", "lineitem/intervalusagestart"),
    normalize=lower,
    mapping=_mapping,
)


detect, ingest = entry_points(FORMAT)
SOURCE = Source(NAME, DESCRIPTION, ("cost_line_items",), ingest, detect, stage=NATIVE_BILLS)
