"""Native billing exports → FOCUS rows: the shared samples (focus_converters' test inputs)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost import Warehouse
from mlcost.errors import BadValue, MissingColumn
from mlcost.sources import aws_cur, azure, detect_source, gcp, oci
from mlcost.sources.focus import ingest_focus
from tests.conftest import FOCUS_SAMPLES, snapshot

NATIVE = FOCUS_SAMPLES / "native-exports"
AWS = NATIVE / "aws_cur_sample-anonymous-aws-export-dataset.csv"
AZURE = NATIVE / "azure_ea_sample-anonymous-ea-export-dataset.csv"
OCI = NATIVE / "oci_reports_cost-csv_0000000030000269.csv"


def _total(wh: Warehouse, column: str = "EffectiveCost") -> Decimal:
    return Decimal(str(wh.table("cost_line_items")[column].sum().execute()))


def _source_sum(path: Path, column: str) -> Decimal:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as fh:
        return sum((Decimal(r[column] or "0") for r in csv.DictReader(fh)), Decimal(0))


@pytest.mark.parametrize(
    ("module", "path", "cost_column", "rows"),
    [
        (aws_cur, AWS, "lineItem/UnblendedCost", 1281),
        (azure, AZURE, "CostInBillingCurrency", 27),
        (oci, OCI, "cost/myCost", 506),
    ],
)
def test_native_samples_load_with_their_totals(
    wh: Warehouse, module: object, path: Path, cost_column: str, rows: int
) -> None:
    assert detect_source(path) == module.NAME  # type: ignore[attr-defined]
    result = module.ingest(wh, path)  # type: ignore[attr-defined]
    assert result.tables == {"cost_line_items": rows}
    # Money survives the mapping: decimal text → DECIMAL(38, 12), so at most 1e-12 per row.
    assert abs(_total(wh, "BilledCost") - _source_sum(path, cost_column)) <= Decimal(
        rows
    ) * Decimal("1e-12")
    t = wh.table("cost_line_items")
    for mandatory in (
        "BillingAccountId",
        "BillingCurrency",
        "ChargePeriodStart",
        "BillingPeriodStart",
        "ChargeCategory",
        "ServiceProviderName",
    ):
        assert t[mandatory].isnull().sum().execute() == 0, mandatory
    assert module.ingest(wh, path).already_loaded  # type: ignore[attr-defined]


def test_aws_cur_mapping_details(wh: Warehouse) -> None:
    aws_cur.ingest(wh, AWS)
    t = wh.table("cost_line_items")
    tax = t.filter(t.ChargeCategory == "Tax").count().execute()
    assert tax == 12  # lineItem/LineItemType = Tax
    row = t.filter(t.ServiceName == "AWS CloudTrail").limit(1).to_pyarrow().to_pylist()[0]
    assert (row["BillingAccountId"], row["ServiceProviderName"]) == ("123412340534", "AWS")


def test_azure_tags_dates_and_spot(wh: Warehouse) -> None:
    azure.ingest(wh, AZURE)
    t = wh.table("cost_line_items")
    row = t.limit(1).to_pyarrow().to_pylist()[0]
    assert dict(row["Tags"]) == {"tagA": "valueA", "tagB": "valueB", "tagC": "valueC"}
    assert (row["ChargePeriodStart"].month, row["ChargePeriodStart"].day) == (9, 2)
    assert row["BillingPeriodEnd"].month == 10  # EA writes the period's last day
    spot = t.filter(t.ChargeDescription.contains("Spot")).PricingCategory.to_pyarrow().to_pylist()
    assert spot and set(spot) == {"Dynamic"}


CUR2_GPU = {
    "identity_line_item_id": "x1",
    "bill_payer_account_id": "111122223333",
    "bill_billing_period_start_date": "2026-05-01T00:00:00Z",
    "bill_billing_period_end_date": "2026-06-01T00:00:00Z",
    "line_item_usage_account_id": "444455556666",
    "line_item_line_item_type": "Usage",
    "line_item_usage_start_date": "2026-05-01T00:00:00Z",
    "line_item_usage_end_date": "2026-05-01T01:00:00Z",
    "line_item_product_code": "AmazonEC2",
    "line_item_usage_type": "USE1-SpotUsage:p4d.24xlarge",
    "line_item_resource_id": "i-0abc",
    "line_item_usage_amount": "1",
    "line_item_currency_code": "USD",
    "line_item_unblended_rate": "8.1915",
    "line_item_unblended_cost": "8.1915",
    "line_item_line_item_description": "$8.1915 per Spot Linux p4d.24xlarge Instance Hour",
    "product_instance_type": "p4d.24xlarge",
    "product_region_code": "us-east-1",
    "pricing_public_on_demand_cost": "21.957642",
    "pricing_unit": "Hrs",
}


def test_cur2_parquet_gpu_columns_via_catalog(wh: Warehouse, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "cur2.parquet"
    table = pa.table({k: [v] for k, v in CUR2_GPU.items()})
    table = table.append_column(
        "resource_tags",
        pa.array([[("user:team", "search")]], type=pa.map_(pa.string(), pa.string())),
    )
    pq.write_table(table, path)
    assert detect_source(path) == "aws-cur"
    aws_cur.ingest(wh, path)
    [row] = wh.table("cost_line_items").to_pyarrow().to_pylist()
    assert (row["x_InstanceType"], row["x_GpuModel"], row["x_GpuCount"]) == (
        "p4d.24xlarge",
        "A100-40GB",
        Decimal(8),
    )
    assert row["PricingCategory"] == "Dynamic" and row["ListCost"] == Decimal("21.957642")
    assert dict(row["Tags"]) == {"user:team": "search"}


def test_focus_rows_get_gpu_columns_from_description(wh: Warehouse) -> None:
    # The official FOCUS 1.0 sample has no x_ columns; g5.4xlarge rows name their type.
    ingest_focus(wh, FOCUS_SAMPLES / "official-focus-1.0" / "focus_sample_1000.csv")
    t = wh.table("cost_line_items")
    g5 = t.filter(t.x_InstanceType == "g5.4xlarge").select("x_GpuModel", "x_GpuCount").distinct()
    assert g5.to_pyarrow().to_pylist() == [{"x_GpuModel": "A10G", "x_GpuCount": Decimal(1)}]
    # A non-GPU type is kept as the instance type, without a GPU.
    m5 = t.filter(t.x_InstanceType == "m5.large")
    assert m5.count().execute() > 0 and m5.x_GpuModel.notnull().sum().execute() == 0


GCP_ROW = {
    "billing_account_id": "01A2B3-C4D5E6-F7A8B9",
    "service": {"id": "6F81-5844-456A", "description": "Compute Engine"},
    "sku": {"id": "A1B2", "description": "Nvidia Tesla A100 GPU running in Americas"},
    "usage_start_time": "2026-05-01T00:00:00Z",
    "usage_end_time": "2026-05-01T01:00:00Z",
    "project": {"id": "ml-prod", "name": "ML prod"},
    "labels": [{"key": "team", "value": "vision"}],
    "system_labels": [{"key": "compute.googleapis.com/machine_spec", "value": "a2-highgpu-8g"}],
    "location": {"location": "us-central1", "region": "us-central1", "zone": "us-central1-a"},
    "resource": {
        "name": "trainer-1",
        "global_name": "//compute.googleapis.com/projects/ml-prod/zones/us-central1-a/instances/trainer-1",
    },
    "cost": 23.47,
    "currency": "USD",
    "usage": {
        "amount": 3600,
        "unit": "seconds",
        "amount_in_pricing_units": 1,
        "pricing_unit": "hour",
    },
    "credits": [{"name": "Sustained use", "amount": -2.5, "type": "SUSTAINED_USAGE_DISCOUNT"}],
    "invoice": {"month": "202605"},
    "cost_type": "regular",
}


def test_gcp_json_and_csv(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "gcp.jsonl"
    path.write_text(
        json.dumps(GCP_ROW)
        + "\n"
        + json.dumps({**GCP_ROW, "cost": 1.0, "cost_type": "tax", "credits": []})
        + "\n"
    )
    assert detect_source(path) == "gcp"
    gcp.ingest(wh, path)
    rows = wh.table("cost_line_items").order_by("BilledCost").to_pyarrow().to_pylist()
    tax, gpu = rows
    assert tax["ChargeCategory"] == "Tax"
    assert gpu["EffectiveCost"] == Decimal("20.97")  # cost + credits
    assert (gpu["x_InstanceType"], gpu["x_GpuModel"], gpu["x_GpuCount"]) == (
        "a2-highgpu-8g",
        "A100-40GB",
        Decimal(8),
    )
    assert gpu["BillingPeriodStart"].month == 5 and dict(gpu["Tags"]) == {"team": "vision"}
    assert gpu["ResourceName"] == "trainer-1" and gpu["SubAccountId"] == "ml-prod"
    csv_path = tmp_path / "gcp.csv"
    csv_path.write_text(
        "billing_account_id,service.description,sku.description,usage_start_time,usage_end_time,project.id,cost,currency,invoice.month,cost_type\n"
        "01A2,Cloud Storage,Standard Storage,2026-05-01 00:00:00 UTC,2026-05-02 00:00:00 UTC,p1,0.5,USD,202605,regular\n"
    )
    assert detect_source(csv_path) == "gcp"
    gcp.ingest(wh, csv_path)
    assert wh.table("cost_line_items").count().execute() == 3


def test_native_bad_value_and_missing_column(wh: Warehouse, tmp_path: Path) -> None:
    before = snapshot(wh)
    bad = tmp_path / "cur.csv"
    text = AWS.read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines[0].split(",")
    at = header.index("lineItem/UnblendedCost")
    import csv
    import io

    records = list(csv.reader(io.StringIO(text)))
    records[5][at] = "12,5 USD"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    bad.write_text(out.getvalue())
    with pytest.raises(BadValue) as err:
        aws_cur.ingest(wh, bad)
    assert (err.value.row, err.value.column) == (5, "lineItem/UnblendedCost")
    assert snapshot(wh) == before
    with pytest.raises(MissingColumn):
        azure.ingest(wh, AWS)
