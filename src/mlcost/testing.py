"""Helpers for tests and benchmarks: FOCUS files of any size, made without SQL or randomness.

>>> from mlcost.testing import focus_table
>>> focus_table(3).num_rows
3
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

PROVIDERS = ("AWS", "Microsoft", "Google Cloud")
SERVICES = (
    "Amazon Elastic Compute Cloud",
    "Amazon SageMaker",
    "Amazon Simple Storage Service",
    "Virtual Machines",
    "Azure Machine Learning",
    "Compute Engine",
    "Vertex AI",
    "Cloud Storage",
)
TEAMS = ("search", "recommendations", "llm-platform", "vision", "data-eng")


def focus_table(
    rows: int,
    *,
    account: str = "acct-1",
    period: datetime = datetime(2026, 5, 1, tzinfo=UTC),
    currency: str = "USD",
    cost_scale: float = 1.0,
) -> pa.Table:
    """``rows`` rows of FOCUS 1.2 Cost and Usage: all 57 columns, as a provider exports them.

    Row ``i`` costs ``(i % 1000) / 100 * cost_scale``; providers, services and ``team`` tags
    cycle, so group totals are easy to compute independently.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = pa.array(range(rows), type=pa.int64())
    hours = pc.multiply(pc.bit_wise_and(idx, 511), 3600)  # 512 distinct charge hours
    start_s = int(period.timestamp())
    charge_start = pc.cast(pc.add(hours, start_s), pa.timestamp("s", tz="UTC"))
    charge_end = pc.cast(pc.add(pc.add(hours, start_s), 3600), pa.timestamp("s", tz="UTC"))
    period_end = (period + timedelta(days=31)).replace(day=1)

    def cycle(values: tuple[str, ...]) -> pa.Array:
        return pc.take(pa.array(values), pc.remainder(idx, len(values)))

    cost = pc.multiply(pc.divide(pc.cast(pc.remainder(idx, 1000), pa.float64()), 100.0), cost_scale)
    provider = cycle(PROVIDERS)
    tags = pc.binary_join_element_wise('{"team": "', cycle(TEAMS), '", "env": "prod"}', "")
    const = lambda value: pa.repeat(value, rows)  # noqa: E731
    columns = {
        "BilledCost": cost,
        "BillingAccountId": const(account),
        "BillingAccountName": const(f"{account} name"),
        "BillingAccountType": const("Billing Account"),
        "BillingCurrency": const(currency),
        "BillingPeriodEnd": pa.repeat(pa.scalar(period_end, pa.timestamp("s", tz="UTC")), rows),
        "BillingPeriodStart": pa.repeat(pa.scalar(period, pa.timestamp("s", tz="UTC")), rows),
        "ChargeCategory": const("Usage"),
        "ChargeClass": pa.nulls(rows, pa.string()),
        "ChargeDescription": cycle(SERVICES),
        "ChargeFrequency": const("Usage-Based"),
        "ChargePeriodEnd": charge_end,
        "ChargePeriodStart": charge_start,
        "ConsumedQuantity": const(1.0),
        "ConsumedUnit": const("Hours"),
        "ContractedCost": cost,
        "EffectiveCost": cost,
        "InvoiceIssuerName": provider,
        "ListCost": pc.multiply(cost, 1.25),
        "PricingQuantity": const(1.0),
        "PricingUnit": const("Hours"),
        "ProviderName": provider,
        "PublisherName": provider,
        "ResourceId": pc.binary_join_element_wise(
            "res-", pc.cast(pc.remainder(idx, 5000), pa.string()), ""
        ),
        "ServiceCategory": const("Compute"),
        "ServiceName": cycle(SERVICES),
        "SubAccountId": pc.binary_join_element_wise(
            "sub-", pc.cast(pc.remainder(idx, 7), pa.string()), ""
        ),
        "Tags": tags,
        # The rest of FOCUS 1.2's columns, filled the way an on-demand usage row has them.
        "AvailabilityZone": cycle(("us-east-1a", "us-east-1b", "us-west-2a")),
        "CapacityReservationId": pa.nulls(rows, pa.string()),
        "CapacityReservationStatus": pa.nulls(rows, pa.string()),
        "CommitmentDiscountCategory": pa.nulls(rows, pa.string()),
        "CommitmentDiscountId": pa.nulls(rows, pa.string()),
        "CommitmentDiscountName": pa.nulls(rows, pa.string()),
        "CommitmentDiscountQuantity": pa.nulls(rows, pa.float64()),
        "CommitmentDiscountStatus": pa.nulls(rows, pa.string()),
        "CommitmentDiscountType": pa.nulls(rows, pa.string()),
        "CommitmentDiscountUnit": pa.nulls(rows, pa.string()),
        "ContractedUnitPrice": cost,
        "InvoiceId": const(f"INV-{period:%Y-%m}"),
        "ListUnitPrice": pc.multiply(cost, 1.25),
        "PricingCategory": const("Standard"),
        "PricingCurrency": const(currency),
        "PricingCurrencyContractedUnitPrice": cost,
        "PricingCurrencyEffectiveCost": cost,
        "PricingCurrencyListUnitPrice": pc.multiply(cost, 1.25),
        "RegionId": cycle(("us-east-1", "us-east-1", "us-west-2")),
        "RegionName": cycle(("US East (N. Virginia)", "US East (N. Virginia)", "US West (Oregon)")),
        "ResourceName": pc.binary_join_element_wise(
            "name-", pc.cast(pc.remainder(idx, 5000), pa.string()), ""
        ),
        "ResourceType": const("Virtual Machine"),
        "ServiceSubcategory": const("Virtual Machines"),
        "SkuId": cycle(("SKU-A", "SKU-B", "SKU-C", "SKU-D")),
        "SkuMeter": const("Compute"),
        "SkuPriceDetails": pa.nulls(rows, pa.string()),
        "SkuPriceId": cycle(("P-A", "P-B", "P-C", "P-D")),
        "SubAccountName": pc.binary_join_element_wise(
            "team-account-", pc.cast(pc.remainder(idx, 7), pa.string()), ""
        ),
        "SubAccountType": const("Linked Account"),
    }
    return pa.table(columns)


def write_focus_file(path: Path, rows: int, **options: object) -> Path:
    """Write :func:`focus_table` to ``path``: Parquet, CSV or CSV.gz by its suffix."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = focus_table(rows, **options)  # type: ignore[arg-type]
    name = path.name.lower()
    if name.endswith(".parquet"):
        pq.write_table(table, path, row_group_size=256 * 1024)
    elif name.endswith(".csv.gz"):
        import pyarrow as pa

        with pa.CompressedOutputStream(str(path), "gzip") as out:
            pacsv.write_csv(table, out)
    else:
        pacsv.write_csv(table, path)
    return path
