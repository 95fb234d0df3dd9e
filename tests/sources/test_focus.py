"""FOCUS ingest on the real sample files, bad input, idempotency, restatements, kill -9."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost import Warehouse, ingest_focus, open_warehouse, spend
from mlcost.errors import BadValue, InvalidInput, MissingColumn, MissingCurrency, NotFocus
from mlcost.sources.focus import inspect_file
from mlcost.testing import write_focus_file
from tests.conftest import FOCUS_SAMPLES, data_files, snapshot

OFFICIAL = data_files(FOCUS_SAMPLES / "official-focus-1.0")
SYNTHETIC = data_files(FOCUS_SAMPLES / "synthetic-1.2-1.3")
# Hand-made fragments of a few columns (split-allocation and correction scenarios): they
# lack most mandatory columns, so they load only with allow_missing.
FRAGMENTS = {p for p in SYNTHETIC if p.name.startswith("scenarios_")}
CONTRACT_COMMITMENTS = {p for p in SYNTHETIC if "contract_commitment" in p.name}
NULLS = {"", "NULL", "null"}


def _amount(value: str | None) -> Decimal:
    return Decimal(0) if value is None or value.strip() in NULLS else Decimal(value)


def _is_null(value: str | None) -> bool:
    return value is None or value.strip() in NULLS


def _provider(row: dict[str, str]) -> str | None:
    """ServiceProviderName as the FOCUS 1.2→1.3 migration guidance derives it."""
    if "ServiceProviderName" in row:
        return None if _is_null(row["ServiceProviderName"]) else row["ServiceProviderName"]
    provider, publisher = row.get("ProviderName"), row.get("PublisherName")
    # Direct purchase: the publisher is the provider itself, under any of its legal names
    # ("AWS" / "Amazon Web Services Canada, Inc.", "Microsoft Azure" / "Microsoft").
    if _is_null(publisher) or _is_null(provider):
        return provider or publisher
    assert provider is not None and publisher is not None
    first = {"AWS": "Amazon"}.get(provider, provider.split()[0])
    if publisher.split()[0] in (first, provider.split()[0]):
        return provider
    return publisher  # a marketplace seller


def _raw_totals(path: Path, metric: str) -> dict[tuple[str | None, str], Decimal]:
    """Totals per (provider, currency) computed straight from the CSV text."""
    totals: dict[tuple[str | None, str], Decimal] = defaultdict(Decimal)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if not any(row.values()):
                continue
            commitment_purchase = row.get("ChargeCategory") == "Purchase" and not _is_null(
                row.get("CommitmentDiscountId")
            )
            if metric != "BilledCost" and commitment_purchase:
                continue  # amortized onto usage rows; counting it would double the commitment
            totals[(_provider(row), row["BillingCurrency"])] += _amount(row.get(metric))
    return dict(totals)


def _spend_totals(wh: Warehouse, metric: str) -> dict[tuple[str | None, str], Decimal]:
    rows = spend(wh, by=["ServiceProviderName"], metric=metric).to_pyarrow().to_pylist()
    return {(r["ServiceProviderName"], r["BillingCurrency"]): r[metric] for r in rows}


@pytest.mark.parametrize(
    "path",
    [p for p in OFFICIAL + SYNTHETIC if p not in FRAGMENTS | CONTRACT_COMMITMENTS],
    ids=lambda p: p.name,
)
@pytest.mark.parametrize("metric", ["EffectiveCost", "BilledCost"])
def test_sample_totals_per_provider_match_the_raw_file(
    wh: Warehouse, path: Path, metric: str
) -> None:
    result = ingest_focus(wh, [path])
    with path.open(encoding="utf-8-sig") as fh:
        assert result.rows == sum(1 for row in csv.DictReader(fh) if any(row.values()))
    expected = _raw_totals(path, metric)
    got = _spend_totals(wh, metric)
    assert set(got) == set(expected)
    for key, amount in expected.items():
        # Amounts are stored with 12 decimals; raw values can have more.
        assert abs(got[key] - amount) < Decimal("1e-9") * max(result.rows, 1), key


@pytest.mark.parametrize("path", sorted(FRAGMENTS), ids=lambda p: p.name)
def test_fragments_load_with_allow_missing_and_not_without(wh: Warehouse, path: Path) -> None:
    with pytest.raises(MissingColumn):
        ingest_focus(wh, [path])
    result = ingest_focus(wh, [path], allow_missing=True, currency="USD")
    with path.open() as fh:
        assert result.rows == sum(1 for _ in csv.DictReader(fh))
    with path.open() as fh:
        billed = sum(_amount(r["BilledCost"]) for r in csv.DictReader(fh))
    assert sum(r["BilledCost"] for r in _rows(wh, "BilledCost")) == billed


def _rows(wh: Warehouse, metric: str) -> list[dict[str, object]]:
    return spend(wh, by=[], metric=metric).to_pyarrow().to_pylist()


@pytest.mark.parametrize("path", sorted(CONTRACT_COMMITMENTS), ids=lambda p: p.name)
def test_contract_commitment_files_load_into_their_own_table(wh: Warehouse, path: Path) -> None:
    result = ingest_focus(wh, [path])
    with path.open() as fh:
        raw = list(csv.DictReader(fh))
    table = wh.table("contract_commitments").to_pyarrow().to_pylist()
    assert result.tables == {"cost_line_items": 0, "contract_commitments": len(raw)}
    assert len(table) == len(raw)
    assert sum(r["ContractCommitmentCost"] or 0 for r in table) == sum(
        _amount(r["ContractCommitmentCost"]) for r in raw
    )


# The FOCUS 1.2 appendix's commitment-discount examples and the EffectiveCost each one's text
# gives (specification/data/commitment_discount_*; FOCUS_Spec tag v1.2). The flexibility
# examples are one hour with a recurring (hourly-billed) commitment, so amortized spend equals
# the hour's bill; purchase rows alone amortize to nothing; usage rows carry the amortization.
SPEC_EFFECTIVE_COST = {
    "commitment_discount_flexibility__one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv": "2.75",
    "commitment_discount_flexibility__one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv": "2.00",
    "commitment_discount_flexibility__one_hundred_percent_utilization_without_commitment_discount_flexibility.csv": "1.50",
    "commitment_discount_flexibility__zero_percent_utilization_without_commitment_discount_flexibility.csv": "3.50",
    "commitment_discount_scenarios__commitment_discount_purchase_scenario_1.csv": "0.00",
    "commitment_discount_scenarios__commitment_discount_usage_scenario_1.csv": "1.00",
    "commitment_discount_scenarios__commitment_discount_usage_scenario_2.csv": "1.00",
    "commitment_discount_scenarios__commitment_discount_usage_scenario_3.csv": "1.00",
    "commitment_discount_scenarios__commitment_discount_usage_scenario_4.csv": "1.50",
}


@pytest.mark.parametrize("name", sorted(SPEC_EFFECTIVE_COST))
def test_commitment_examples_give_the_specs_effective_cost(wh: Warehouse, name: str) -> None:
    path = FOCUS_SAMPLES / "spec-examples-1.2" / name
    ingest_focus(wh, [path], allow_missing=True, currency="USD")
    effective = _rows(wh, "EffectiveCost")
    assert {r["BillingCurrency"] for r in effective} <= {"USD"}
    total = sum((r["EffectiveCost"] for r in effective), Decimal(0))
    assert total == Decimal(SPEC_EFFECTIVE_COST[name])
    if "flexibility" in name:  # recurring commitment, one hour: amortized == billed
        (billed,) = _rows(wh, "BilledCost")
        assert billed["BilledCost"] == total


# Two of the spec's examples end a charge period at hour 30 ("2023-02-01T30:00:00Z"), which is
# not a time; mlcost refuses them and says where.
SPEC_INVALID = {
    "commitment_discount_scenarios__commitment_discount_purchase_scenario_2.csv": 3,
    "commitment_discount_scenarios__commitment_discount_purchase_scenario_3.csv": 4,
}


@pytest.mark.parametrize(("name", "row"), sorted(SPEC_INVALID.items()))
def test_spec_examples_with_an_impossible_hour_are_refused(
    wh: Warehouse, name: str, row: int
) -> None:
    path = FOCUS_SAMPLES / "spec-examples-1.2" / name
    with pytest.raises(BadValue) as info:
        ingest_focus(wh, [path], allow_missing=True, currency="USD")
    assert (info.value.row, info.value.column) == (row, "ChargePeriodEnd")
    assert "2023-02-01T30:00:00Z" in str(info.value)


def test_versions_are_detected_from_columns() -> None:
    versions = {p.name: inspect_file(p, allow_missing=True).version for p in OFFICIAL + SYNTHETIC}
    assert versions["focus_sample_1000.csv"] == "1.0"
    assert versions["aws_1_2_cost_and_usage_rows100_seed42.csv"] == "1.2"
    assert versions["gcp_1_3_cost_and_usage_rows100_seed42.csv"] == "1.3"
    assert versions["consolidated_multi_provider_1_3.csv"] == "1.3"


def test_focus_1_4_and_1_1_are_recognized(tmp_path: Path) -> None:
    src = FOCUS_SAMPLES / "synthetic-1.2-1.3" / "aws_1_3_cost_and_usage_rows100_seed42.csv"
    with src.open() as fh:
        rows = list(csv.DictReader(fh))
    # FOCUS 1.4 drops ProviderName/PublisherName and may add InvoiceDetailId.
    v14 = tmp_path / "v14.csv"
    keep = [c for c in rows[0] if c not in ("ProviderName", "PublisherName")] + ["InvoiceDetailId"]
    _write(v14, keep, [{**r, "InvoiceDetailId": "D1"} for r in rows])
    assert inspect_file(v14).version == "1.4"
    # FOCUS 1.1: 1.0's columns plus SkuPriceDetails, without any 1.2 column.
    official = OFFICIAL[0]
    with official.open() as fh:
        base = list(csv.DictReader(fh))[:5]
    v11 = tmp_path / "v11.csv"
    _write(v11, [*base[0], "SkuPriceDetails"], [{**r, "SkuPriceDetails": "{}"} for r in base])
    assert inspect_file(v11).version == "1.1"


def test_marketplace_rows_map_onto_service_and_host_provider(wh: Warehouse) -> None:
    ingest_focus(wh, OFFICIAL)
    rows = spend(wh, by=["ServiceProviderName", "HostProviderName"]).to_pyarrow().to_pylist()
    pairs = {(r["ServiceProviderName"], r["HostProviderName"]) for r in rows}
    # The Red Hat row is sold through AWS Marketplace: Red Hat sells, AWS hosts.
    assert ("Red Hat Inc.", "AWS") in pairs
    assert ("AWS", "AWS") in pairs
    legacy = wh.table("cost_line_items").x_PublisherName.nunique().execute()
    assert legacy == 6  # the original PublisherName values are kept


def test_tags_become_a_map_and_group_spend(wh: Warehouse) -> None:
    path = OFFICIAL[0]
    ingest_focus(wh, [path])
    expected: dict[str | None, Decimal] = defaultdict(Decimal)
    with path.open(encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            tags = {} if _is_null(row["Tags"]) else json.loads(row["Tags"])
            expected[tags.get("environment")] += _amount(row["EffectiveCost"])
    rows = spend(wh, by=["tag:environment"]).to_pyarrow().to_pylist()
    assert {r["tag:environment"]: r["EffectiveCost"] for r in rows} == dict(expected)


def test_both_timestamp_spellings_and_null_spellings(wh: Warehouse, tmp_path: Path) -> None:
    table = write_focus_file(tmp_path / "base.csv", 4)
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["ChargePeriodStart"] = "2026-05-01T03:00:00Z"
    rows[1]["ChargePeriodStart"] = "2026-05-01 03:00:00"
    rows[2]["ChargePeriodStart"] = "2026-05-01T05:00:00+02:00"  # 03:00 UTC
    rows[3]["Tags"] = "NULL"
    rows[2]["Tags"] = ""
    path = tmp_path / "mixed.csv"
    _write(path, list(rows[0]), rows)
    ingest_focus(wh, [path])
    t = wh.table("cost_line_items")
    starts = t.ChargePeriodStart.to_pyarrow().to_pylist()
    assert starts[:3] == [datetime(2026, 5, 1, 3, 0)] * 3
    assert t.Tags.isnull().sum().execute() == 2


def test_gzip_and_parquet_and_directories(wh: Warehouse, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    write_focus_file(folder / "part-1.csv.gz", 100, account="a1")
    write_focus_file(folder / "part-2.parquet", 50, account="a2")
    (folder / "README.txt").write_text("not data")
    result = ingest_focus(wh, [folder])
    assert result.rows == 150
    assert result.billing_accounts == ("a1", "a2")
    expected = sum(Decimal(i % 1000) / 100 for i in range(100)) + sum(
        Decimal(i % 1000) / 100 for i in range(50)
    )
    assert result.effective_cost == {"USD": expected}


def test_instance_type_comes_from_the_first_text_that_names_one(
    wh: Warehouse, tmp_path: Path
) -> None:
    # ChargeDescription first, then SkuMeter, then SkuPriceDetails; the GPU model and count
    # follow from the catalog (which has no OCI shapes). A type glued to a word by "_" is not one.
    columns, rows = _base_rows(tmp_path, 6)
    texts = [
        ("$32.77 per On Demand Linux p4d.24xlarge Instance Hour", "m5.large", ""),
        ("Virtual Machines", "NC24ads A100 v4", '{"x_Note": "Standard_NC24ads_A100_v4"}'),
        ("Compute Engine", "a2-highgpu-8g GPU hours", ""),
        ("Storage", "Standard", '{"x_Shape": "BM.GPU.H100.8"}'),
        ("no type in here", "", ""),
        ("vm_p4d.24xlarge", "", ""),
    ]
    for row, (description, meter, details) in zip(rows, texts, strict=True):
        row.update(ChargeDescription=description, SkuMeter=meter, SkuPriceDetails=details)
        row["ResourceId"] = description[:20]
    ingest_focus(wh, [_write(tmp_path / "types.csv", columns, rows)])
    t = wh.table("cost_line_items")
    got = {
        r["ChargeDescription"]: (r["x_InstanceType"], r["x_GpuModel"])
        for r in t.select("ChargeDescription", "x_InstanceType", "x_GpuModel")
        .to_pyarrow()
        .to_pylist()
    }
    assert got == {
        texts[0][0]: ("p4d.24xlarge", "A100-40GB"),
        texts[1][0]: ("Standard_NC24ads_A100_v4", "A100-80GB"),
        texts[2][0]: ("a2-highgpu-8g", "A100-40GB"),
        texts[3][0]: ("BM.GPU.H100.8", None),
        texts[4][0]: (None, None),
        texts[5][0]: (None, None),
    }


# -- bad input -----------------------------------------------------------------------------
def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _base_rows(tmp_path: Path, n: int = 5) -> tuple[list[str], list[dict[str, str]]]:
    path = write_focus_file(tmp_path / "good.csv", n)
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    return list(rows[0]), rows


@pytest.fixture
def loaded(wh: Warehouse, tmp_path: Path) -> Warehouse:
    """A warehouse that already holds one export, so 'unchanged' means something."""
    ingest_focus(wh, [write_focus_file(tmp_path / "first.parquet", 20, account="keep")])
    return wh


def test_missing_mandatory_column(loaded: Warehouse, tmp_path: Path) -> None:
    columns, rows = _base_rows(tmp_path)
    path = _write(tmp_path / "bad.csv", [c for c in columns if c != "BilledCost"], rows)
    before = snapshot(loaded)
    with pytest.raises(MissingColumn) as info:
        ingest_focus(loaded, [path])
    assert info.value.column == "BilledCost"
    assert info.value.file == str(path)
    assert "--allow-missing" in str(info.value)
    assert snapshot(loaded) == before


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("EffectiveCost", "12,50", "number"),
        ("ListCost", "$3.00", "number"),
        ("ChargePeriodStart", "05/01/2026 10am", "timestamp"),
        ("BillingPeriodEnd", "2026-13-01T00:00:00Z", "timestamp"),
    ],
)
def test_unparseable_value_names_file_row_and_column(
    loaded: Warehouse, tmp_path: Path, column: str, value: str, kind: str
) -> None:
    columns, rows = _base_rows(tmp_path)
    rows[3][column] = value  # the fourth data row
    path = _write(tmp_path / "bad.csv", columns, rows)
    before = snapshot(loaded)
    with pytest.raises(BadValue) as info:
        ingest_focus(loaded, [path])
    err = info.value
    assert (err.file, err.row, err.column) == (str(path), 4, column)
    assert kind in str(err) and value in str(err)
    assert snapshot(loaded) == before


def test_tags_that_are_not_a_json_object(loaded: Warehouse, tmp_path: Path) -> None:
    columns, rows = _base_rows(tmp_path)
    rows[1]["Tags"] = '["team", "search"]'
    path = _write(tmp_path / "bad.csv", columns, rows)
    before = snapshot(loaded)
    with pytest.raises(BadValue) as info:
        ingest_focus(loaded, [path])
    assert (info.value.row, info.value.column) == (2, "Tags")
    assert snapshot(loaded) == before


def test_not_focus_at_all(loaded: Warehouse) -> None:
    native = FOCUS_SAMPLES / "native-exports" / "aws_cur_sample-anonymous-aws-export-dataset.csv"
    before = snapshot(loaded)
    with pytest.raises(NotFocus) as info:
        ingest_focus(loaded, [native])
    assert "not a FOCUS" in str(info.value) and "How to fix" in str(info.value)
    assert snapshot(loaded) == before


def test_mixed_currencies_without_billing_currency(loaded: Warehouse, tmp_path: Path) -> None:
    columns, rows = _base_rows(tmp_path, 6)
    rows[0]["BillingCurrency"] = "EUR"
    rows[4]["BillingCurrency"] = ""
    path = _write(tmp_path / "bad.csv", columns, rows)
    before = snapshot(loaded)
    with pytest.raises(MissingCurrency) as info:
        ingest_focus(loaded, [path])
    err = info.value
    assert (err.row, err.column) == (5, "BillingCurrency")
    assert "EUR, USD" in str(err)
    assert snapshot(loaded) == before


def test_a_bad_second_file_rolls_back_the_first(loaded: Warehouse, tmp_path: Path) -> None:
    good = write_focus_file(tmp_path / "a-good.csv", 10, account="new")
    columns, rows = _base_rows(tmp_path)
    rows[0]["BilledCost"] = "n/a"
    bad = _write(tmp_path / "b-bad.csv", columns, rows)
    before = snapshot(loaded)
    with pytest.raises(BadValue):
        ingest_focus(loaded, [good, bad])
    assert snapshot(loaded) == before


# -- idempotency and restatement -----------------------------------------------------------
def test_loading_the_same_file_twice_changes_nothing(wh: Warehouse, tmp_path: Path) -> None:
    path = write_focus_file(tmp_path / "may.parquet", 100)
    first = ingest_focus(wh, [path])
    after_first = snapshot(wh)
    again = ingest_focus(wh, [path])
    assert again.already_loaded and again.ingest_id == first.ingest_id
    assert snapshot(wh) == after_first


def test_a_restated_period_replaces_the_old_rows_of_that_account_only(
    wh: Warehouse, tmp_path: Path
) -> None:
    may = datetime(2026, 5, 1, tzinfo=UTC)
    june = datetime(2026, 6, 1, tzinfo=UTC)
    ingest_focus(wh, [write_focus_file(tmp_path / "a-may.parquet", 100, account="A", period=may)])
    ingest_focus(wh, [write_focus_file(tmp_path / "a-jun.parquet", 10, account="A", period=june)])
    ingest_focus(wh, [write_focus_file(tmp_path / "b-may.parquet", 30, account="B", period=may)])
    # The provider re-issues account A's May bill: fewer rows, costs doubled.
    restated = write_focus_file(
        tmp_path / "a-may-v2.parquet", 40, account="A", period=may, cost_scale=2
    )
    result = ingest_focus(wh, [restated])
    assert result.rows_replaced == 100
    by_account = spend(wh, by=["BillingAccountId", "BillingPeriodStart"]).to_pyarrow().to_pylist()
    got = {
        (r["BillingAccountId"], r["BillingPeriodStart"].month): r["EffectiveCost"]
        for r in by_account
    }
    cost = lambda n, scale=1: sum(Decimal(i % 1000) / 100 * scale for i in range(n))  # noqa: E731
    assert got == {("A", 5): cost(40, 2), ("A", 6): cost(10), ("B", 5): cost(30)}


# -- kill -9 -------------------------------------------------------------------------------
KILL_SCRIPT = """
import sys
from mlcost import ingest_focus, open_warehouse
wh = open_warehouse(sys.argv[1])
ingest_focus(wh, [sys.argv[2]], progress=lambda done, name: print(done, flush=True))
print("done", flush=True)
"""


def test_kill_9_mid_ingest_leaves_the_warehouse_as_before(wh_url: str, tmp_path: Path) -> None:
    with open_warehouse(wh_url) as wh:
        ingest_focus(wh, [write_focus_file(tmp_path / "first.parquet", 1000, account="keep")])
        before = snapshot(wh)
    big = write_focus_file(tmp_path / "big.csv", 600_000, account="big")
    with subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, wh_url, str(big)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        assert proc.stdout is not None
        # Wait until the load is a fifth done by its own progress report, then kill it.
        for line in proc.stdout:
            assert line.strip() != "done", "the ingest finished before it could be killed"
            if line.strip() and float(line) >= 0.2:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with open_warehouse(wh_url) as wh:
        assert snapshot(wh) == before
        accounts = wh.table("cost_line_items").BillingAccountId.to_pyarrow().to_pylist()
        assert set(accounts) == {"keep"}


@pytest.mark.parametrize("tail", ["cut", "ragged"])
def test_a_truncated_or_ragged_csv_names_its_row(
    loaded: Warehouse, tmp_path: Path, tail: str
) -> None:
    sample = FOCUS_SAMPLES / "official-focus-1.0" / "focus_sample_1000.csv"
    lines = sample.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = lines[31][:120] if tail == "cut" else "a,b,c\n"  # a copy cut mid-row / a bad row
    path = tmp_path / "broken.csv"
    path.write_text("".join(lines[:31]) + broken, encoding="utf-8")
    before = snapshot(loaded)
    with pytest.raises(InvalidInput) as info:
        ingest_focus(loaded, [path])
    assert (info.value.file, info.value.row) == (str(path), 31)
    assert "where the header has 44" in str(info.value) and "How to fix" in str(info.value)
    assert snapshot(loaded) == before
