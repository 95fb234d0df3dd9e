"""The organization's bill as FOCUS Cost and Usage rows, one CSV per provider.

AWS writes FOCUS 1.2, GCP 1.0 and Azure 1.3 (column sets from FOCUS_COLUMNS.md), so an
ingest sees three versions. Rows are hourly for instances and commitments, daily for storage,
transfer and cluster fees, monthly for support, commitment purchases and tax.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlcost.demo import _prices as P
from mlcost.demo._org import Account, Host, Org, ts

VERSION = {"aws": "1.2", "gcp": "1.0", "azure": "1.3"}

_COMMON_1_0 = [
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
]
_ADDED_1_1 = [
    "CapacityReservationId",
    "CapacityReservationStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "ServiceSubcategory",
    "SkuMeter",
    "SkuPriceDetails",
]
_ADDED_1_2 = [
    "BillingAccountType",
    "SubAccountType",
    "InvoiceId",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
]
_ADDED_1_3 = [
    "ServiceProviderName",
    "HostProviderName",
    "ContractApplied",
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
]
X_COLUMNS = ["x_GpuModel", "x_GpuCount", "x_InstanceType"]
COLUMNS = {
    "1.0": sorted(_COMMON_1_0),
    "1.2": sorted(_COMMON_1_0 + _ADDED_1_1 + _ADDED_1_2),
    "1.3": sorted(_COMMON_1_0 + _ADDED_1_1 + _ADDED_1_2 + _ADDED_1_3),
}

_PROVIDER = {  # ProviderName, PublisherName, InvoiceIssuerName
    "aws": ("AWS", "AWS", "AWS"),
    "gcp": ("Google Cloud", "Google", "Google Cloud"),
    "azure": ("Microsoft Azure", "Microsoft", "Microsoft Azure"),
}
_ACCOUNT_TYPES = {  # BillingAccountType, SubAccountType
    "aws": ("Payer Account", "Linked Account"),
    "gcp": ("Billing Account", "Project"),
    "azure": ("Microsoft Customer Agreement", "Subscription"),
}
_REGION_NAME = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "us-central1": "Iowa",
    "eastus": "East US",
}
_COMPUTE = {  # ServiceName, ResourceType
    "aws": ("Amazon Elastic Compute Cloud", "EC2 Instance"),
    "gcp": ("Compute Engine", "Compute Instance"),
    "azure": ("Virtual Machines", "Virtual Machine"),
}
_PRICING_CATEGORY = {"on-demand": "Standard", "spot": "Dynamic", "reserved": "Committed"}


def money(x: float) -> float:
    """Amounts are kept at 10 decimals, as written, so sums of the CSV equal sums here."""
    return round(x, 10)


def _id(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:12].upper()


def _month_bounds(t: datetime) -> tuple[datetime, datetime]:
    start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


@dataclass
class Bill:
    """All rows per provider, plus which rows belong to which host (for the ground truth)."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    host_hours: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def add(
        self, provider: str, acct: Account, start: datetime, end: datetime, **cols: Any
    ) -> dict[str, Any]:
        bp_start, bp_end = _month_bounds(start)
        prov, pub, issuer = _PROVIDER[provider]
        bat, sat = _ACCOUNT_TYPES[provider]
        row: dict[str, Any] = {
            "BillingAccountId": acct.billing_account_id,
            "BillingAccountName": acct.billing_account_name,
            "BillingAccountType": bat,
            "SubAccountId": acct.sub_account_id,
            "SubAccountName": acct.sub_account_name,
            "SubAccountType": sat,
            "BillingCurrency": "USD",
            "PricingCurrency": "USD",
            "BillingPeriodStart": bp_start,
            "BillingPeriodEnd": bp_end,
            "ChargePeriodStart": start,
            "ChargePeriodEnd": end,
            "InvoiceIssuerName": issuer,
            "InvoiceId": f"INV-{bp_start:%Y%m}-{provider.upper()}-{_id(acct.billing_account_id)[:6]}",  # noqa: E501
            "ProviderName": prov,
            "PublisherName": pub,
            "ServiceProviderName": prov,
            "HostProviderName": prov,
            "ChargeClass": None,
        }
        row.update(cols)
        for key in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            row[key] = money(row[key])
        row["PricingCurrencyEffectiveCost"] = row["EffectiveCost"]
        row["PricingCurrencyListUnitPrice"] = row.get("ListUnitPrice")
        row["PricingCurrencyContractedUnitPrice"] = row.get("ContractedUnitPrice")
        self.rows[provider].append(row)
        return row


def _tags(tags: dict[str, str] | None) -> str | None:
    return json.dumps(tags, separators=(",", ":")) if tags else None


def _host_rows(bill: Bill, host: Host) -> None:
    sku = host.sku
    service, rtype = _COMPUTE[sku.provider]
    reserved = host.purchase == "reserved"
    unit = {"on-demand": sku.on_demand, "spot": sku.spot, "reserved": sku.reserved_1yr}[
        host.purchase
    ]
    assert unit is not None
    billed = 0.0 if reserved else unit
    hours = []
    common = {
        "ChargeCategory": "Usage",
        "ChargeDescription": f"{sku.instance_type} {host.purchase} instance-hour",
        "ChargeFrequency": "Usage-Based",
        "ListUnitPrice": sku.on_demand,
        "ContractedUnitPrice": sku.on_demand,
        "PricingCategory": _PRICING_CATEGORY[host.purchase],
        "PricingQuantity": 1,
        "PricingUnit": "Hours",
        "ConsumedQuantity": 1,
        "ConsumedUnit": "Hours",
        "ServiceName": service,
        "ServiceCategory": "Compute",
        "ServiceSubcategory": "Virtual Machines",
        "SkuId": _id(sku.provider, sku.instance_type, host.purchase),
        "SkuPriceId": _id(sku.provider, sku.instance_type, host.purchase, sku.region),
        "SkuMeter": "Compute",
        "SkuPriceDetails": json.dumps(
            {"InstanceType": sku.instance_type, "x_GpuCount": sku.gpu_count}
        ),
        "ResourceId": host.resource_id,
        "ResourceName": host.name,
        "ResourceType": rtype,
        "RegionId": sku.region,
        "RegionName": _REGION_NAME[sku.region],
        "AvailabilityZone": host.zone,
        "Tags": _tags(host.tags),
        "x_GpuModel": sku.gpu_model,
        "x_GpuCount": sku.gpu_count,
        "x_InstanceType": sku.instance_type,
    }
    if reserved:
        common.update(_commitment(host.commitment_id, sku.instance_type, "Used"))
    for h in host.hours():
        row = bill.add(
            sku.provider,
            host.account,
            ts(h),
            ts(h + 1),
            BilledCost=billed,
            EffectiveCost=unit,
            ListCost=sku.on_demand,
            ContractedCost=sku.on_demand,
            **common,
        )
        hours.append((h, row["EffectiveCost"]))
    bill.host_hours[host.name] = hours


def _commitment(cid: str, instance: str, status: str | None) -> dict[str, Any]:
    return {
        "CommitmentDiscountId": cid,
        "CommitmentDiscountName": f"{instance} 1yr No Upfront Reserved Instance",
        "CommitmentDiscountCategory": "Usage",
        "CommitmentDiscountType": "Reserved Instance",
        "CommitmentDiscountStatus": status,
        "CommitmentDiscountQuantity": 1,
        "CommitmentDiscountUnit": "Hours",
    }


def _commitment_rows(bill: Bill, org: Org) -> None:
    """Monthly purchase of each reservation, and Unused rows for the hours nothing used it."""
    acct = org.accounts["aws"]
    for c in org.commitments:
        cid, instance, count = str(c["id"]), str(c["instance"]), int(str(c["count"]))
        sku = P.SKUS[instance]
        rate = sku.reserved_1yr
        assert rate is not None
        used: dict[int, int] = defaultdict(int)
        for host in org.hosts:
            if host.commitment_id == cid:
                for h in host.hours():
                    used[h] += 1
        months: dict[datetime, int] = defaultdict(int)
        for h in range(org.hours):
            months[_month_bounds(ts(h))[0]] += 1
            for _ in range(count - used[h]):
                bill.add(
                    "aws",
                    acct,
                    ts(h),
                    ts(h + 1),
                    ChargeCategory="Usage",
                    ChargeDescription=f"Unused reservation hour, {instance}",
                    ChargeFrequency="Usage-Based",
                    BilledCost=0.0,
                    EffectiveCost=rate,
                    ListCost=0.0,
                    ContractedCost=0.0,
                    PricingCategory="Committed",
                    PricingQuantity=1,
                    PricingUnit="Hours",
                    ServiceName=_COMPUTE["aws"][0],
                    ServiceCategory="Compute",
                    ServiceSubcategory="Virtual Machines",
                    ResourceId=cid,
                    ResourceName=cid.rsplit("/", 1)[-1],
                    ResourceType="Reserved Instance",
                    RegionId=sku.region,
                    RegionName=_REGION_NAME[sku.region],
                    SkuId=_id("aws", instance, "reserved"),
                    **_commitment(cid, instance, "Unused"),
                )
        for month, n_hours in sorted(months.items()):
            start = max(month, ts(0))
            bill.add(
                "aws",
                acct,
                start,
                _month_bounds(month)[1],
                ChargeCategory="Purchase",
                ChargeDescription=f"{count} x {instance} 1yr No Upfront, monthly fee",
                ChargeFrequency="Recurring",
                BilledCost=rate * count * n_hours,
                EffectiveCost=0.0,
                ListCost=rate * count * n_hours,
                ContractedCost=rate * count * n_hours,
                ListUnitPrice=rate,
                ContractedUnitPrice=rate,
                PricingCategory="Committed",
                PricingQuantity=count * n_hours,
                PricingUnit="Hours",
                ServiceName=_COMPUTE["aws"][0],
                ServiceCategory="Compute",
                ServiceSubcategory="Virtual Machines",
                ResourceId=cid,
                ResourceName=cid.rsplit("/", 1)[-1],
                ResourceType="Reserved Instance",
                RegionId=sku.region,
                RegionName=_REGION_NAME[sku.region],
                SkuId=_id("aws", instance, "reserved"),
                **{
                    **_commitment(cid, instance, None),
                    "CommitmentDiscountQuantity": count * n_hours,
                },
            )


def _daily(
    bill: Bill,
    org: Org,
    provider: str,
    *,
    name: str,
    rid: str | None,
    rtype: str | None,
    region: str,
    service: str,
    category: str,
    subcategory: str,
    unit: str,
    quantity: float,
    price: float,
    description: str,
    tags: dict[str, str] | None,
    details: dict[str, str] | None = None,
) -> list[float]:
    """One row a day; returns the daily EffectiveCost."""
    out = []
    for d in range(org.days):
        q = round(quantity, 6)
        row = bill.add(
            provider,
            org.accounts[provider],
            ts(d * 24),
            ts(d * 24 + 24),
            ChargeCategory="Usage",
            ChargeDescription=description,
            ChargeFrequency="Usage-Based",
            BilledCost=q * price,
            EffectiveCost=q * price,
            ListCost=q * price,
            ContractedCost=q * price,
            ListUnitPrice=price,
            ContractedUnitPrice=price,
            PricingCategory="Standard",
            PricingQuantity=q,
            PricingUnit=unit,
            ConsumedQuantity=q,
            ConsumedUnit=unit,
            ServiceName=service,
            ServiceCategory=category,
            ServiceSubcategory=subcategory,
            SkuId=_id(provider, service, description),
            SkuMeter=subcategory,
            SkuPriceDetails=json.dumps(details) if details else None,
            ResourceId=rid,
            ResourceName=name if rid else None,
            ResourceType=rtype,
            RegionId=region,
            RegionName=_REGION_NAME[region],
            Tags=_tags(tags),
        )
        out.append(row["EffectiveCost"])
    return out


def _storage_network(bill: Bill, org: Org, cross_region: list[float]) -> None:
    s = org.scale
    aws_acct = org.accounts["aws"].sub_account_id
    # Storage: daily share of a GB-month.
    for name, tb, tags in (
        (
            "acme-datasets-usw2",
            420 * s,
            {"team": "llm-platform", "env": "prod", "project": "atlas"},
        ),
        ("acme-shared-artifacts", 120 * s, {"cost-category": "shared"}),
        ("acme-feature-store", 80 * s, {"team_name": "data-eng", "env": "prod"}),
    ):
        region = "us-west-2" if name.endswith("usw2") else "us-east-1"
        _daily(
            bill,
            org,
            "aws",
            name=name,
            rid=f"arn:aws:s3:::{name}",
            rtype="S3 Bucket",
            region=region,
            service="Amazon Simple Storage Service",
            category="Storage",
            subcategory="Object Storage",
            unit="GB-Month",
            quantity=tb * 1000 / 30,
            price=P.S3_STANDARD_GB_MONTH,
            description="S3 Standard storage",
            tags=tags,
        )
    _daily(
        bill,
        org,
        "gcp",
        name="acme-vision-images",
        rid="//storage.googleapis.com/projects/_/buckets/acme-vision-images",
        rtype="Bucket",
        region="us-central1",
        service="Cloud Storage",
        category="Storage",
        subcategory="Object Storage",
        unit="GB-Month",
        quantity=200 * s * 1000 / 30,
        price=P.GCS_STANDARD_GB_MONTH,
        description="Standard Storage US Central 1",
        tags={"team": "vision", "env": "prod"},
    )
    _daily(
        bill,
        org,
        "azure",
        name="acmemlblobs",
        rid=f"/subscriptions/{org.accounts['azure'].sub_account_id}/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/acmemlblobs",
        rtype="Storage Account",
        region="eastus",
        service="Storage",
        category="Storage",
        subcategory="Object Storage",
        unit="GB-Month",
        quantity=100 * s * 1000 / 30,
        price=P.AZURE_BLOB_HOT_GB_MONTH,
        description="Hot LRS Data Stored",
        tags=None,
    )
    # Training in us-east-1 reads its dataset from a us-west-2 bucket every day.
    cross_region.extend(
        _daily(
            bill,
            org,
            "aws",
            name="acme-datasets-usw2",
            rid="arn:aws:s3:::acme-datasets-usw2",
            rtype="S3 Bucket",
            region="us-west-2",
            service="Amazon Simple Storage Service",
            category="Networking",
            subcategory="Network Connectivity",
            unit="GB",
            quantity=15000 * s,
            price=P.AWS_INTER_REGION_GB,
            description="Data transfer US West (Oregon) to US East (N. Virginia)",
            tags={"team": "llm-platform", "env": "prod", "project": "atlas"},
            details={"x_FromRegion": "us-west-2", "x_ToRegion": "us-east-1"},
        )
    )
    _daily(
        bill,
        org,
        "aws",
        name="eks-serving-nlb",
        rid=f"arn:aws:elasticloadbalancing:us-east-1:{aws_acct}:loadbalancer/net/eks-serving/{_id('nlb').lower()}",
        rtype="Load Balancer",
        region="us-east-1",
        service="Amazon Elastic Compute Cloud",
        category="Networking",
        subcategory="Network Connectivity",
        unit="GB",
        quantity=2000 * s,
        price=P.AWS_INTERNET_EGRESS_GB,
        description="Data transfer out to the internet",
        tags={"cost-category": "shared"},
        details={"x_FromRegion": "us-east-1", "x_ToRegion": "internet"},
    )
    # Managed Kubernetes control planes: shared by every team on the cluster.
    for provider, cluster, region, service, rid in (
        (
            "aws",
            "eks-serving",
            "us-east-1",
            "Amazon Elastic Kubernetes Service",
            f"arn:aws:eks:us-east-1:{aws_acct}:cluster/eks-serving",
        ),
        (
            "gcp",
            "gke-vision",
            "us-central1",
            "Kubernetes Engine",
            f"//container.googleapis.com/projects/{org.accounts['gcp'].sub_account_id}/locations/us-central1/clusters/gke-vision",
        ),
    ):
        _daily(
            bill,
            org,
            provider,
            name=cluster,
            rid=rid,
            rtype="Kubernetes Cluster",
            region=region,
            service=service,
            category="Compute",
            subcategory="Containers",
            unit="Hours",
            quantity=24,
            price=P.MANAGED_K8S_CONTROL_PLANE_HOUR,
            description="Cluster management fee",
            tags={"cost-category": "shared"},
        )


def _monthly(bill: Bill, org: Org) -> None:
    """Support, GCP credits and tax: account-level rows with no resource."""
    months = sorted({_month_bounds(ts(h))[0] for h in range(org.hours)})
    for month in months:
        start, end = max(month, ts(0)), _month_bounds(month)[1]
        in_month = {
            p: [r for r in rows if _month_bounds(r["ChargePeriodStart"])[0] == month]
            for p, rows in bill.rows.items()
        }
        billed = {p: sum(r["BilledCost"] for r in rows) for p, rows in in_month.items()}
        support = 0.03 * billed["aws"]  # Business support: a share of the AWS bill
        bill.add(
            "aws",
            org.accounts["aws"],
            start,
            end,
            ChargeCategory="Purchase",
            ChargeDescription="AWS Support (Business)",
            ChargeFrequency="Recurring",
            BilledCost=support,
            EffectiveCost=support,
            ListCost=support,
            ContractedCost=support,
            ServiceName="AWS Support (Business)",
            ServiceCategory="Management and Governance",
            ServiceSubcategory="Support",
        )
        billed["aws"] += support
        credit = -min(5000 * org.scale * org.days / 30, 0.2 * billed["gcp"])
        bill.add(
            "gcp",
            org.accounts["gcp"],
            start,
            end,
            ChargeCategory="Credit",
            ChargeDescription="Promotional credit: AI startup program",
            ChargeFrequency="One-Time",
            BilledCost=credit,
            EffectiveCost=credit,
            ListCost=0.0,
            ContractedCost=0.0,
            ServiceName="Compute Engine",
            ServiceCategory="Compute",
        )
        billed["gcp"] += credit
        for provider in ("aws", "gcp", "azure"):
            tax = P.SALES_TAX_RATE * billed[provider]
            bill.add(
                provider,
                org.accounts[provider],
                start,
                end,
                ChargeCategory="Tax",
                ChargeDescription="US sales tax",
                ChargeFrequency="Recurring",
                BilledCost=tax,
                EffectiveCost=tax,
                ListCost=0.0,
                ContractedCost=0.0,
                ServiceName="Tax",
                ServiceCategory="Other",
            )


def build_bill(org: Org) -> tuple[Bill, list[float]]:
    """All rows of the org; also the daily cross-region transfer cost (planted waste)."""
    bill = Bill()
    for host in org.hosts:
        _host_rows(bill, host)
    _commitment_rows(bill, org)
    cross_region: list[float] = []
    _storage_network(bill, org, cross_region)
    _monthly(bill, org)
    return bill, cross_region


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, float):
        text = f"{value:.10f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return str(value)


def write_focus(bill: Bill, out: Path) -> dict[str, int]:
    """One CSV per provider, in the FOCUS version that provider writes; row counts by file."""
    counts = {}
    for provider in ("aws", "gcp", "azure"):
        version = VERSION[provider]
        columns = COLUMNS[version] + X_COLUMNS
        path = out / f"{provider}-focus-{version}.csv"
        rows = sorted(
            bill.rows[provider],
            key=lambda r: (r["ChargePeriodStart"], r.get("ResourceId") or "", r["ChargeCategory"]),
        )
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            for r in rows:
                writer.writerow([_cell(r.get(c)) for c in columns])
        counts[path.name] = len(rows)
    return counts
