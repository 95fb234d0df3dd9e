"""Azure cost details exports (EA and MCA, actual or amortized) → FOCUS rows.

Column names are compared case-insensitively, so EA (``BillingCurrencyCode``,
``CostInBillingCurrency``) and MCA (``billingCurrency``, ``costInBillingCurrency``) spellings
both load. Mapping as Microsoft's FOCUS export and the focus_converters ``azure`` configs:
ChargeType → ChargeCategory (``Purchase``, ``Tax``, ``Refund`` → Credit, ``RoundingAdjustment``
→ Adjustment, else Usage), PricingModel → PricingCategory (OnDemand Standard, Spot Dynamic,
Reservation / SavingsPlan Committed), ``Date`` as a one-day charge period, EA's brace-less
``Tags`` fragments as objects, ``AdditionalInfo.ServiceType`` (the VM size) as
``x_InstanceType``.
"""

from __future__ import annotations

from typing import Any

from mlcost.sources._common import NATIVE_BILLS, Source
from mlcost.sources._native import NativeFormat, cases, entry_points, first, lit, lower, times

NAME = "azure"
DESCRIPTION = "Azure cost details exports (EA, MCA) → FOCUS rows"

_CATEGORY = (
    ("Usage", "Usage"),
    ("Purchase", "Purchase"),
    ("Tax", "Tax"),
    ("Refund", "Credit"),
    ("Credit", "Credit"),
    ("RoundingAdjustment", "Adjustment"),
    ("UnusedReservation", "Usage"),
    ("UnusedSavingsPlan", "Usage"),
)
_PRICING = (
    ("OnDemand", "Standard"),
    ("Spot", "Dynamic"),
    ("Reservation", "Committed"),
    ("SavingsPlan", "Committed"),
)
_SERVICE_CATEGORY = (
    ("Virtual Machines", "Compute"),
    ("Azure Kubernetes Service", "Compute"),
    ("Container Instances", "Compute"),
    ("Functions", "Compute"),
    ("Storage", "Storage"),
    ("Virtual Network", "Networking"),
    ("Bandwidth", "Networking"),
    ("Load Balancer", "Networking"),
    ("Azure Machine Learning", "AI and Machine Learning"),
    ("Cognitive Services", "AI and Machine Learning"),
    ("SQL Database", "Databases"),
    ("Azure Cosmos DB", "Databases"),
)


def _date(value: Any) -> Any:
    """Azure writes MM/DD/YYYY (EA) or YYYY-MM-DD (MCA, newer exports)."""
    import ibis

    s = value.cast("string").strip()
    return ibis.ifelse(
        s.re_search(r"^\d{1,2}/\d{1,2}/\d{4}"),
        s.re_extract(r"^(\d{1,2}/\d{1,2}/\d{4})", 1).as_timestamp("%m/%d/%Y"),
        s.cast("timestamp"),
    )


def _mapping(col: Any, t: Any) -> dict[str, Any]:
    import ibis
    import ibis.expr.datatypes as dt

    cost = first(col("costinbillingcurrency"), col("cost"), col("pretaxcost")).cast(
        dt.Decimal(38, 12)
    )
    quantity = first(col("quantity"), col("usagequantity"))
    payg = first(col("paygprice"), col("paygcostinbillingcurrency"))
    day = _date(first(col("date"), col("usagedatetime")))
    charge = first(col("chargetype"), lit("Usage"))
    tags_text = col("tags")
    tags = None
    if tags_text is not None:
        raw = tags_text.cast("string").strip()
        tags = ibis.ifelse(
            raw.isnull() | (raw == ""),
            ibis.null("string"),
            ibis.ifelse(raw.startswith("{"), raw, "{" + raw + "}"),
        )
    info = col("additionalinfo")
    vm_size = (
        info.cast("string").re_extract(r'"ServiceType"\s*:\s*"([^"]+)"', 1).nullif("")
        if info is not None
        else None
    )
    publisher_type = col("publishertype")
    service_provider = lit("Microsoft")
    if publisher_type is not None and col("publishername") is not None:
        service_provider = ibis.ifelse(
            publisher_type.cast("string").lower() == "marketplace",
            col("publishername").cast("string"),
            "Microsoft",
        )
    resource = first(col("resourceid"), col("instanceid"))
    return {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": times(payg, quantity)
        if payg is not None and quantity is not None and col("paygprice") is not None
        else cost,
        "ContractedCost": cost,
        "ListUnitPrice": col("paygprice"),
        "ContractedUnitPrice": col("unitprice"),
        "BillingAccountId": first(col("billingaccountid"), col("billingprofileid")),
        "BillingAccountName": col("billingaccountname"),
        "SubAccountId": first(col("subscriptionid"), col("subscriptionguid")),
        "SubAccountName": col("subscriptionname"),
        "BillingCurrency": first(col("billingcurrencycode"), col("billingcurrency")),
        "BillingPeriodStart": _date(col("billingperiodstartdate")),
        "BillingPeriodEnd": _date(col("billingperiodenddate")) + ibis.interval(days=1),
        "ChargePeriodStart": day,
        "ChargePeriodEnd": day + ibis.interval(days=1),
        "ChargeCategory": cases(charge, _CATEGORY, "Usage"),
        "ChargeClass": ibis.ifelse(
            charge.cast("string").lower() == "refund", "Correction", ibis.null("string")
        ),
        "ChargeDescription": first(col("metername"), col("productname")),
        "ChargeFrequency": cases(
            col("frequency"),
            (("UsageBased", "Usage-Based"), ("Recurring", "Recurring"), ("OneTime", "One-Time")),
            "Usage-Based",
        ),
        "PricingCategory": cases(col("pricingmodel"), _PRICING),
        "CommitmentDiscountId": first(col("benefitid"), col("reservationid")),
        "CommitmentDiscountName": first(col("benefitname"), col("reservationname")),
        "ConsumedQuantity": quantity,
        "ConsumedUnit": col("unitofmeasure"),
        "PricingQuantity": quantity,
        "PricingUnit": col("unitofmeasure"),
        "RegionId": first(col("resourcelocation"), col("location")),
        "RegionName": col("meterregion"),
        "AvailabilityZone": col("availabilityzone"),
        "ResourceId": resource,
        "ResourceName": first(
            col("resourcename"),
            resource.cast("string").re_extract(r"([^/]+)$", 1) if resource is not None else None,
        ),
        "ResourceType": col("consumedservice"),
        "ServiceName": first(col("metercategory"), col("servicename")),
        "ServiceCategory": cases(col("metercategory"), _SERVICE_CATEGORY, "Other"),
        "ServiceSubcategory": col("metersubcategory"),
        "SkuId": first(col("productorderid"), col("meterid")),
        "SkuMeter": col("metername"),
        "SkuPriceId": col("meterid"),
        "InvoiceId": col("invoiceid"),
        "InvoiceIssuerName": lit("Microsoft"),
        "ServiceProviderName": service_provider,
        "HostProviderName": lit("Microsoft"),
        "Tags": tags,
        "x_InstanceType": vm_size,
    }


FORMAT = NativeFormat(
    name=NAME,
    provider="Microsoft",
    required=("subscriptionid", "metercategory", "date"),
    normalize=lower,
    mapping=_mapping,
)


detect, ingest = entry_points(FORMAT)
SOURCE = Source(NAME, DESCRIPTION, ("cost_line_items",), ingest, detect, stage=NATIVE_BILLS)
