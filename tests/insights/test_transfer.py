"""Data transfer by class: inter-region and inter-zone charges are findings; internet egress
and transfer to on-premises when they dominate."""

from __future__ import annotations

import json

import pytest

from mlcost import Warehouse
from mlcost.insights import Context
from mlcost.insights.transfer import detect_transfer, transfer_class
from tests.insights.conftest import gpu_host, line, put


def _transfer(description: str, cost: float, day: int) -> dict[str, object]:
    return line(
        cost,
        resource="arn:aws:s3:::data-usw2",
        start=day * 24,
        hours=24,
        tags={"team": "llm"},
        ServiceCategory="Networking",
        RegionId="us-west-2",
        ChargeDescription=description,
        ChargeFrequency="Usage-Based",
        ConsumedQuantity=15000,
        ConsumedUnit="GB",
    )


def test_cross_region_reads_are_a_finding(wh: Warehouse) -> None:
    # 10 days of 300 USD: us-west-2 -> us-east-1.
    put(
        wh,
        "cost_line_items",
        [_transfer("Data transfer US West to US East", 300, d) for d in range(10)],
    )
    [f] = detect_transfer(Context(wh))
    assert f.evidence["from_region"] == "us-west-2" and f.evidence["to"] == "US East"
    assert f.evidence["window_waste"] == 3000 and f.monthly_saving.expected == 9000
    assert f.evidence["unit_price"] == 0.02


def _egress_and_gpu(wh: Warehouse, egress_per_day: float) -> None:
    """10 days of a 4 USD/h GPU (960 USD) of team llm, plus its internet egress."""
    bill, _ = gpu_host("i-serve", range(240), 4.0, lambda q: 0.5, tags={"team": "llm"})
    egress = [_transfer("Data transfer out to the internet", egress_per_day, d) for d in range(10)]
    put(wh, "cost_line_items", bill + egress)


def test_internet_egress_that_dominates_its_workload_is_a_finding(wh: Warehouse) -> None:
    # 10 x 300 USD of egress against 960 USD of GPU: 3000 / 3960 = 75.8 % of team llm.
    _egress_and_gpu(wh, 300)
    [f] = detect_transfer(Context(wh))
    ev = f.evidence
    assert (ev["from_region"], ev["to"]) == ("us-west-2", "internet")
    assert ev["egress_cost"] == 3000 and ev["workload_cost"] == 3960
    assert ev["egress_share"] == round(3000 / 3960, 4)
    # By hand: 3000 x 0.4 = 1200 over 10 days, x 3 for 30 days.
    assert ev["window_waste"] == 1200 and ev["monthly_factor"] == 3
    assert f.monthly_saving.expected == 3600
    assert (f.monthly_saving.low, f.monthly_saving.high) == (1800, 6300)
    assert "internet" in f.action and "CDN" in f.action


def test_internet_egress_under_a_quarter_of_its_workload_is_not(wh: Warehouse) -> None:
    # Near-miss: 10 x 30 USD of serving egress next to 960 USD of GPU is 23.8 % of the team.
    _egress_and_gpu(wh, 30)
    assert detect_transfer(Context(wh)) == []


# Each class from the fields each provider documents. AWS: CUR usage types
# (<region>-DataTransfer-Out-Bytes, <from>-<to>-AWS-Out-Bytes, <region>-DataTransfer-Regional-Bytes,
# <region>-DataXfer-Out:dc.1 for Direct Connect) and the price list's transferType / toLocation;
# Azure: Bandwidth / ExpressRoute meter categories; GCP: SKU descriptions.
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"usage_type": "DataTransfer-Out-Bytes"}, "internet_egress"),  # us-east-1: no prefix
        ({"usage_type": "USW2-DataTransfer-Out-Bytes"}, "internet_egress"),
        ({"usage_type": "USE1-USW2-AWS-Out-Bytes"}, "inter_region"),
        ({"usage_type": "USW2-USE1-AWS-In-Bytes"}, "inbound"),
        ({"usage_type": "USE1-DataTransfer-Regional-Bytes"}, "inter_zone"),
        ({"usage_type": "USE1-DataTransfer-xAZ-Out-Bytes"}, "inter_zone"),
        ({"usage_type": "USE1-DataXfer-Out:dc.1"}, "on_premises"),
        ({"usage_type": "USE1-DataTransfer-In-Bytes"}, "inbound"),
        ({"transfer_type": "InterRegion Outbound"}, "inter_region"),
        ({"transfer_type": "IntraRegion"}, "inter_zone"),
        ({"transfer_type": "AWS Outbound", "to_location": "External"}, "internet_egress"),
        # The two strings, as AWS writes them.
        (
            {
                "description": "$0.09 per GB - first 10 TB / month data transfer out beyond "
                "the global free tier",
                "to_location": "External",
            },
            "internet_egress",
        ),
        (
            {
                "description": "$0.01 per GB - regional data transfer - in/out/between EC2 AZs "
                "or using elastic IPs or ELB"
            },
            "inter_zone",
        ),
        ({"meter_category": "Bandwidth", "meter": "Standard Data Transfer Out"}, "internet_egress"),
        (
            {
                "meter_category": "Bandwidth",
                "meter_subcategory": "Inter-Region",
                "meter": "Intra Continent Data Transfer Out",
            },
            "inter_region",
        ),
        (
            {"meter_category": "Bandwidth", "meter": "Inter Availability Zone Data Transfer Out"},
            "inter_zone",
        ),
        ({"meter_category": "ExpressRoute", "meter": "Standard Outbound Data"}, "on_premises"),
        ({"meter": "Network Internet Egress from Americas to Americas"}, "internet_egress"),
        ({"meter": "Network Inter Region Egress from Americas to Europe"}, "inter_region"),
        ({"meter": "Network Inter Zone Egress"}, "inter_zone"),
        ({"meter": "Network Egress via Interconnect from Americas"}, "on_premises"),
        ({"from_region": "us-west-2", "to_region": "us-east-1"}, "inter_region"),
        ({"from_region": "us-east-1", "to_region": "internet"}, "internet_egress"),
        # Structured fields win over the description's words.
        (
            {"usage_type": "USE1-USW2-AWS-Out-Bytes", "description": "data transfer out"},
            "inter_region",
        ),
        ({"description": "GPU instance hour"}, None),
    ],
)
def test_transfer_class_follows_each_providers_fields(
    fields: dict[str, str], expected: str | None
) -> None:
    assert transfer_class(**fields)[0] == expected


def _aws_transfer(usage_type: str, description: str, cost: float, day: int) -> dict[str, object]:
    # An AWS FOCUS row: the usage type in SkuPriceDetails (the export's product attributes),
    # the AWS description, ServiceCategory as AWS writes it for EC2 transfer.
    row = _transfer(description, cost, day)
    row["ServiceCategory"] = "Compute"
    row["ResourceId"] = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"
    row["RegionId"] = "us-east-1"
    row["SkuPriceDetails"] = json.dumps({"usageType": usage_type})
    return row


def test_inter_zone_transfer_is_its_own_finding_with_its_advice(wh: Warehouse) -> None:
    # 10 days of 50 USD of inter-AZ traffic ("regional data transfer ... between EC2 AZs").
    desc = "$0.01 per GB - regional data transfer - in/out/between EC2 AZs or using elastic IPs"
    rows = [_aws_transfer("USE1-DataTransfer-Regional-Bytes", desc, 50, d) for d in range(10)]
    put(wh, "cost_line_items", rows)
    [f] = detect_transfer(Context(wh))
    assert f.evidence["pattern"] == "inter_zone" and f.evidence["classified_from"] == "usage_type"
    assert "availability zone" in f.action and "region" not in f.action.split(":", 1)[1]
    # By hand: 500 USD over 10 days, x 3.
    assert f.evidence["window_waste"] == 500 and f.monthly_saving.expected == 1500


def test_internet_egress_is_not_called_cross_region(wh: Warehouse) -> None:
    # The case: egress to location External that dominates its team's spend.
    desc = "$0.09 per GB - first 10 TB / month data transfer out beyond the global free tier"
    rows = [_aws_transfer("DataTransfer-Out-Bytes", desc, 300, d) for d in range(10)]
    put(wh, "cost_line_items", rows)
    [f] = detect_transfer(Context(wh))
    assert f.evidence["pattern"] == "internet_egress" and f.evidence["to"] == "internet"
    assert "CDN" in f.action and "where the users are" in f.action
    assert "run the jobs" not in f.action


def test_transfer_to_on_premises_when_it_dominates(wh: Warehouse) -> None:
    # Direct Connect transfer out, the team's whole spend: the on-premises advice.
    desc = "$0.02 per GB - AWS Direct Connect data transfer out"
    rows = [_aws_transfer("USE1-DataXfer-Out:dc.1", desc, 300, d) for d in range(10)]
    put(wh, "cost_line_items", rows)
    [f] = detect_transfer(Context(wh))
    assert f.evidence["pattern"] == "on_premises" and "on-premises" in f.action
