"""Data transfer (``data_transfer``), by class: internet egress, inter-region, inter-zone,
to on-premises.

Each transfer charge is classified from its provider's structured fields first
(:func:`transfer_class`), its description last; the class is the finding's sub-kind
(``evidence.pattern``) and decides the advice:

- **AWS**: the usage type (``x_UsageType``, or ``usageType`` in ``SkuPriceDetails``), as the
  CUR and price list name it: ``[REG-]DataTransfer-Out-Bytes`` is internet egress,
  ``REG1-REG2-AWS-Out-Bytes`` inter-region, ``REG-DataTransfer-Regional-Bytes`` and
  ``…-DataTransfer-xAZ-…`` inter-zone ("regional data transfer … between EC2 AZs"),
  ``REG-DataXfer-Out…`` (AWS Direct Connect) to on-premises, ``…-In-Bytes`` inbound (free: no
  finding); and the price list's ``transferType`` / ``toLocation`` in ``SkuPriceDetails``
  (``AWS Outbound`` or toLocation ``External``: internet; ``InterRegion Outbound``:
  inter-region; ``IntraRegion``: inter-zone).
- **Azure**: the meter category and subcategory (``x_SkuMeterCategory``,
  ``x_SkuMeterSubcategory``) and meter (``SkuMeter``): ``Bandwidth`` meters named inter-region
  or intra/inter continent are inter-region, inter availability zone ones inter-zone, other
  ``Data Transfer Out`` internet egress; ``ExpressRoute`` is to on-premises.
- **GCP**: the SKU description (``SkuMeter``, else ``ChargeDescription``): ``Inter Zone``,
  ``Inter Region``, ``Internet`` egress, ``Interconnect`` / ``Peering`` (on-premises).
- Else ``SkuPriceDetails`` ``x_FromRegion`` / ``x_ToRegion`` (``internet`` or another region),
  else the description ("data transfer out … beyond the global free tier", "between EC2 AZs",
  "to the internet", "… to <region>": inter-region).

Findings, one per resource, region and class:

- **Inter-region** and **inter-zone**: the transfer cost, expected all of it (co-locate data
  and compute: run the jobs in the data's region, or keep a copy there; place talking
  instances in one zone); low is half of it (a replica costs storage; some cross-zone traffic
  is what high availability buys).
- **Internet egress** and **to on-premises**: traffic users or sites need is a normal cost,
  so it is a finding only when it dominates its workload: at least ``EGRESS_SHARE`` of
  everything its owner spent in the window (the whole bill for resources with no owner).
  Saving: ``EGRESS_SAVING`` of it (caching, compression, a CDN, serving where the users are;
  for on-premises: send deltas, compress, or move the consumer into the cloud); low
  ``EGRESS_SAVING_LOW``, high ``EGRESS_SAVING_HIGH`` (an assumption, written in the evidence).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from mlcost.insights._context import Context
from mlcost.insights._finding import Finding, Saving, finding_id, money
from mlcost.warehouse import fetch_rows

__all__ = ["CLASSES", "detect_transfer", "transfer_class"]

MIN_MONTHLY = Decimal(100)
EGRESS_SHARE = 0.25
EGRESS_SAVING = Decimal("0.4")
EGRESS_SAVING_LOW = Decimal("0.2")
EGRESS_SAVING_HIGH = Decimal("0.7")
CLASSES = ("internet_egress", "inter_region", "inter_zone", "on_premises", "inbound")
# Provider columns read when the warehouse has them (kept from the export as x_ columns).
X_FIELDS = ("x_UsageType", "x_Operation", "x_SkuMeterCategory", "x_SkuMeterSubcategory")

_AWS_INTER_REGION = re.compile(r"^[A-Z]{2,4}\d?-[A-Z]{2,4}\d?-AWS-(OUT|IN)-BYTES")
_ADVICE = {
    "inter_region": "co-locate data and compute: run the jobs in the data's region, or keep "
    "a copy of the data where they run",
    "inter_zone": "place the instances that talk to each other in one availability zone "
    "(zone-aware routing, topology-aware scheduling); keep cross-zone copies only where "
    "availability needs them",
    "internet_egress": "cache at a CDN, compress responses, and serve from where the users are",
    "on_premises": "send deltas and compressed data to on-premises, or move the consumer "
    "into the cloud region",
}


def _details(text: str | None) -> dict[str, str]:
    """SkuPriceDetails as lower-cased keys -> text (empty when absent or not an object)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in value.items() if v is not None}


def transfer_class(
    *,
    usage_type: str | None = None,
    transfer_type: str | None = None,
    to_location: str | None = None,
    meter_category: str | None = None,
    meter_subcategory: str | None = None,
    meter: str | None = None,
    from_region: str | None = None,
    to_region: str | None = None,
    description: str | None = None,
) -> tuple[str | None, str]:
    """The transfer class of a charge and the field that gave it (None: not a transfer).

    >>> transfer_class(usage_type="USE1-USW2-AWS-Out-Bytes")
    ('inter_region', 'usage_type')
    >>> transfer_class(description="$0.01 per GB - regional data transfer - in/out/between "
    ...     "EC2 AZs or using elastic IPs or ELB")
    ('inter_zone', 'description')
    """
    ut = (usage_type or "").upper()
    if ut:
        if "DATAXFER" in ut or "DIRECTCONNECT" in ut:
            return "on_premises", "usage_type"
        m = _AWS_INTER_REGION.match(ut)
        if m:
            return ("inter_region" if m[1] == "OUT" else "inbound"), "usage_type"
        if "DATATRANSFER-REGIONAL" in ut or "-XAZ-" in ut or "INTERZONE" in ut:
            return "inter_zone", "usage_type"
        if "DATATRANSFER-OUT" in ut:
            return "internet_egress", "usage_type"
        if "DATATRANSFER-IN" in ut or ut.endswith("-IN-BYTES"):
            return "inbound", "usage_type"
    tt = (transfer_type or "").lower()
    if tt:
        if "direct connect" in tt:
            return "on_premises", "transfer_type"
        if "interregion" in tt.replace(" ", "").replace("-", ""):
            return ("inbound" if "inbound" in tt else "inter_region"), "transfer_type"
        if "intraregion" in tt.replace(" ", "").replace("-", ""):
            return "inter_zone", "transfer_type"
        if "inbound" in tt:
            return "inbound", "transfer_type"
        if "outbound" in tt and (to_location or "").lower() in ("external", ""):
            return "internet_egress", "transfer_type"
    if (to_location or "").lower() == "external":
        return "internet_egress", "to_location"
    if meter_category:
        cat = meter_category.lower()
        if "expressroute" in cat or "vpn" in cat:
            return "on_premises", "meter_category"
        if "bandwidth" in cat:
            named = " ".join(filter(None, (meter_subcategory, meter))).lower()
            found = _words(named) or ("internet_egress" if " out" in named else "inbound")
            return found, "meter_category"
    if meter:
        by_meter = _words(meter.lower())
        if by_meter:
            return by_meter, "meter"
    to = (to_region or "").lower()
    if to:
        if to in ("internet", "external"):
            return "internet_egress", "to_region"
        if from_region and to != from_region.lower():
            return "inter_region", "to_region"
    d = (description or "").lower()
    if d and ("transfer" in d or "egress" in d or "bandwidth" in d):
        by_words = _words(d)
        if by_words:
            return by_words, "description"
        if " to " in d:
            return "inter_region", "description"
    return None, ""


def _words(text: str) -> str | None:
    """A class from the words providers use in meter names, SKU and charge descriptions."""
    flat = text.replace("-", " ")
    if any(w in flat for w in ("interconnect", "peering", "direct connect", "expressroute")):
        return "on_premises"
    if any(w in flat for w in ("inter zone", "interzone", "availability zone", "between ec2 az")):
        return "inter_zone"
    if "regional data transfer" in flat or "intra region" in flat:
        return "inter_zone"
    if any(
        w in flat for w in ("inter region", "interregion", "intra continent", "inter continent")
    ):
        return "inter_region"
    if any(w in flat for w in ("internet", "global free tier", "data transfer out")):
        return "internet_egress"
    if "data transfer in" in flat or "ingress" in flat:
        return "inbound"
    return None


def detect_transfer(ctx: Context) -> list[Finding]:
    """One finding per resource, region and class: inter-region and inter-zone transfer,
    and internet egress or transfer to on-premises where it dominates its workload."""
    rows = _transfers(ctx)
    moved = [_moved(ctx, r) for r in rows if r["class"] in ("inter_region", "inter_zone")]
    out = [f for f in moved if f is not None]
    return out + _egress(ctx, [r for r in rows if r["class"] in ("internet_egress", "on_premises")])


def _transfers(ctx: Context) -> list[dict[str, Any]]:
    """Transfer charges per resource, region, description and structured fields, with their
    class and owner."""
    t = ctx.lines()
    xs = [c for c in X_FIELDS if c in t.columns]
    text = (
        t.ChargeDescription.fill_null("")
        + " "
        + t.SkuMeter.fill_null("")
        + " "
        + t.SkuPriceDetails.cast("string").fill_null("")
    ).lower()
    maybe = (
        (t.ServiceCategory == "Networking")
        | text.contains("transfer")
        | text.contains("egress")
        | text.contains("bandwidth")
        | text.contains("bytes")
        | text.contains("dataxfer")
    )
    for c in xs:
        maybe = maybe | t[c].cast("string").lower().contains("bytes")
        maybe = maybe | t[c].cast("string").lower().contains("bandwidth")
    t = t.filter((t.ChargeCategory == "Usage") & maybe.fill_null(False))
    keys = {
        "resource": t.ResourceId,
        "region": t.RegionId,
        "description": t.ChargeDescription,
        "meter": t.SkuMeter,
        "details": t.SkuPriceDetails.cast("string"),
        **{c: t[c].cast("string") for c in xs},
    }
    g = t.group_by(**keys).aggregate(
        cost=t.EffectiveCost.sum(),
        quantity=t.ConsumedQuantity.sum(),
        unit=t.ConsumedUnit.max(),
        owner=t.owner.max(),
        days=t.ChargePeriodStart.truncate("D").nunique(),
    )
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    # In the keys' order: the first row of a merged key gives its unit, owner and class
    # source on every engine alike.
    for r in fetch_rows(g, order_by=list(keys)):
        d = _details(r["details"])
        cls, source = transfer_class(
            usage_type=r.get("x_UsageType") or d.get("usagetype") or d.get("x_usagetype"),
            transfer_type=d.get("transfertype"),
            to_location=d.get("tolocation"),
            meter_category=r.get("x_SkuMeterCategory") or d.get("metercategory"),
            meter_subcategory=r.get("x_SkuMeterSubcategory") or d.get("metersubcategory"),
            meter=r["meter"],
            from_region=d.get("x_fromregion") or d.get("fromregioncode") or r["region"],
            to_region=d.get("x_toregion") or d.get("toregioncode"),
            description=r["description"],
        )
        if cls is None:
            continue
        to = d.get("x_toregion") or d.get("toregioncode") or d.get("tolocation")
        desc = r["description"] or ""
        if not to and cls == "inter_region" and " to " in desc:
            to = desc.split(" to ", 1)[1]
        key = (r["resource"], r["region"], desc, cls)
        row = merged.setdefault(
            key,
            {
                "resource": r["resource"],
                "region": r["region"],
                "description": desc,
                "class": cls,
                "classified_from": source,
                "to": to,
                "usage_type": r.get("x_UsageType") or d.get("usagetype"),
                "cost": Decimal(0),
                "quantity": Decimal(0),
                "unit": r["unit"],
                "owner": r["owner"],
                "days": 0,
            },
        )
        row["cost"] += Decimal(str(r["cost"] or 0))
        row["quantity"] += Decimal(str(r["quantity"] or 0))
        row["days"] = max(row["days"], int(r["days"]))
    return sorted(merged.values(), key=lambda r: str(r["resource"]))


def _moved(ctx: Context, r: dict[str, Any]) -> Finding | None:
    """Inter-region or inter-zone transfer of one resource: a finding when it is worth it."""
    waste = r["cost"]
    expected = ctx.monthly(waste)
    if expected < MIN_MONTHLY:
        return None
    cls = r["class"]
    to = r["to"] or ("another region" if cls == "inter_region" else "another zone")
    unit_price = waste / r["quantity"] if r["quantity"] else None
    key = (r["resource"], r["region"], r["description"])
    return Finding(
        # Inter-region keeps the id it had before transfer was classified.
        id=finding_id("data_transfer", *key, *(() if cls == "inter_region" else (cls,))),
        kind="data_transfer",
        resource_id=r["resource"],
        owner=r["owner"],
        monthly_saving=Saving(money(expected / 2), expected, expected),
        confidence=0.8,
        action=f"stop moving data of {r['resource']} across "
        f"{'regions' if cls == 'inter_region' else 'availability zones'} ({r['region']} -> "
        f"{to}): {_ADVICE[cls]}",
        evidence={
            "pattern": cls,
            "rule": f"transfer charges classified {cls} (from {r['classified_from']})",
            "classified_from": r["classified_from"],
            "usage_type": r["usage_type"],
            "from_region": r["region"],
            "to": to,
            "description": r["description"],
            "quantity": float(r["quantity"]),
            "unit": r["unit"],
            "unit_price": float(unit_price) if unit_price is not None else None,
            "days_charged": r["days"],
            **ctx.scaling(waste, "window_waste x monthly_factor"),
        },
    )


def _egress(ctx: Context, rows: list[dict[str, Any]]) -> list[Finding]:
    """Internet egress and transfer to on-premises that dominate their workload."""
    if not rows:
        return []
    t = ctx.lines()
    spent = {
        r["owner"]: Decimal(str(r["cost"] or 0))
        for r in t.group_by("owner").aggregate(cost=t.EffectiveCost.sum()).to_pyarrow().to_pylist()
    }
    whole_bill = sum(spent.values(), Decimal(0))
    out = []
    for r in rows:
        egress = r["cost"]
        workload = spent.get(r["owner"], Decimal(0)) if r["owner"] is not None else whole_bill
        share = float(egress / workload) if workload > 0 else 0.0
        expected = ctx.monthly(egress * EGRESS_SAVING)
        if share < EGRESS_SHARE or expected < MIN_MONTHLY:
            continue
        cls = r["class"]
        to = "internet" if cls == "internet_egress" else "on-premises"
        scope = f"owner {r['owner']}" if r["owner"] is not None else "the whole bill"
        key = (r["resource"], r["region"], r["description"])
        out.append(
            Finding(
                id=finding_id("data_transfer", *key, *(() if cls == "internet_egress" else (cls,))),
                kind="data_transfer",
                resource_id=r["resource"],
                owner=r["owner"],
                monthly_saving=Saving(
                    ctx.monthly(egress * EGRESS_SAVING_LOW),
                    expected,
                    ctx.monthly(egress * EGRESS_SAVING_HIGH),
                ),
                confidence=0.5,
                action=f"cut {'internet egress' if cls == 'internet_egress' else 'transfer'} "
                f"of {r['resource']} ({r['region']} -> {to}, {share:.0%} of {scope}'s spend): "
                f"{_ADVICE[cls]}",
                evidence={
                    "pattern": cls,
                    "rule": f"{cls} >= {EGRESS_SHARE:.0%} of its owner's spend "
                    "(the whole bill when it has no owner)",
                    "classified_from": r["classified_from"],
                    "usage_type": r["usage_type"],
                    "from_region": r["region"],
                    "to": to,
                    "description": r["description"],
                    "quantity": float(r["quantity"]),
                    "unit": r["unit"],
                    "days_charged": r["days"],
                    "egress_cost": float(money(egress)),
                    "workload_cost": float(money(workload)),
                    "egress_share": round(share, 4),
                    "saving_share": float(EGRESS_SAVING),
                    "saving_share_source": "assumption: compression and CDN caching remove "
                    "about 40 % of egress bytes (20-70 % by content type)",
                    **ctx.scaling(
                        egress * EGRESS_SAVING,
                        "egress_cost x saving_share x monthly_factor",
                    ),
                },
            )
        )
    return out
