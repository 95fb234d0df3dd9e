"""The generated organization is coherent, and its ground truth can be recomputed from the files."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import subprocess
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mlcost.demo import DemoOrg, generate_demo
from mlcost.errors import ConfigError

# Mandatory Cost and Usage columns per version (FOCUS_COLUMNS.md), written out here on purpose
# rather than imported from the generator.
MANDATORY_1_0 = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory",
    "ServiceName",
}  # fmt: skip
MANDATORY = {
    "1.0": MANDATORY_1_0,
    "1.2": MANDATORY_1_0,
    "1.3": MANDATORY_1_0 | {"ServiceProviderName", "HostProviderName"},
}
ONLY_1_1_AND_LATER = {"CapacityReservationId", "SkuMeter", "SkuPriceDetails", "ServiceSubcategory"}
ONLY_1_3_AND_LATER = {"ServiceProviderName", "AllocatedMethodId", "ContractApplied"}
NOT_NULL = {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
            "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart",
            "BillingAccountId", "ServiceName", "ServiceCategory", "InvoiceIssuerName"}  # fmt: skip
DECIMALS = {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice",
            "ContractedUnitPrice", "PricingQuantity", "ConsumedQuantity", "x_GpuCount"}  # fmt: skip
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
TEAM_KEYS = ("team", "Team", "team_name")


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> DemoOrg:
    # 2026-05-01 is a Friday: three days hold working hours, nights and a weekend.
    return generate_demo(tmp_path_factory.mktemp("org"), days=3, seed=7, scale=0.3)


@pytest.fixture(scope="module")
def rows(org: DemoOrg) -> list[dict[str, str]]:
    out = []
    for path in org.focus_files:
        with path.open(newline="") as f:
            out.extend(csv.DictReader(f))
    return out


@pytest.fixture(scope="module")
def truth(org: DemoOrg) -> dict[str, Any]:
    return json.loads((org.out / "ground_truth.json").read_text())


def _hour(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _telemetry(org: DemoOrg) -> dict[tuple[str, datetime], list[tuple[int, int, int]]]:
    """(host, hour) -> [(gpu index, utilization %, memory used MiB)] from both formats."""
    out: dict[tuple[str, datetime], list[tuple[int, int, int]]] = defaultdict(list)
    for path in (org.out / "telemetry/nvidia-smi").glob("*.csv"):
        lines = path.read_text().splitlines()
        assert lines[0].startswith("timestamp, index, uuid, name, utilization.gpu [%]")
        for line in lines[1:]:
            stamp, index, _uuid, _name, util, mem, _total, _power = line.split(", ")
            t = datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f").replace(tzinfo=UTC)
            out[(path.stem, t.replace(minute=0))].append(
                (int(index), int(util.removesuffix(" %")), int(mem.removesuffix(" MiB")))
            )
    sample = re.compile(r'^(\w+)\{gpu="(\d+)".*Hostname="([^"]+)".*\} (\S+) (\d+)$')
    for path in (org.out / "telemetry/dcgm").glob("*.om.txt"):
        mem: dict[tuple[str, str, str], int] = {}
        for line in path.read_text().splitlines():
            m = sample.match(line)
            if m and m[1] == "DCGM_FI_DEV_FB_USED":
                mem[(m[3], m[2], m[5])] = int(m[4])
        for line in path.read_text().splitlines():
            m = sample.match(line)
            if m and m[1] == "DCGM_FI_DEV_GPU_UTIL":
                t = datetime.fromtimestamp(int(m[5]), UTC)
                out[(m[3], t.replace(minute=0))].append(
                    (int(m[2]), int(m[4]), mem[(m[3], m[2], m[5])])
                )
    return out


def _cost_by_hour(rows: list[dict[str, str]], name: str) -> dict[datetime, float]:
    return {_hour(r["ChargePeriodStart"]): float(r["EffectiveCost"])
            for r in rows if r["ResourceName"] == name and r["x_GpuCount"]}  # fmt: skip


def _case(truth: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    cases = [c for c in truth["cases"] if c["kind"] == kind]
    assert cases, f"no {kind} case planted"
    return cases


def test_same_seed_is_byte_identical_and_another_seed_differs(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a", days=1, seed=3, scale=0.2)
    b = generate_demo(tmp_path / "b", days=1, seed=3, scale=0.2)
    c = generate_demo(tmp_path / "c", days=1, seed=4, scale=0.2)
    files = sorted(p.relative_to(a.out) for p in a.out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b.out) for p in b.out.rglob("*") if p.is_file())
    for rel in files:
        assert (a.out / rel).read_bytes() == (b.out / rel).read_bytes(), rel
    assert (a.out / "billing/aws-focus-1.2.csv").read_bytes() != (
        c.out / "billing/aws-focus-1.2.csv"
    ).read_bytes()
    assert a.total_usd != c.total_usd


def test_each_file_has_the_columns_of_its_version_and_valid_values(org: DemoOrg) -> None:
    versions = set()
    for path in org.focus_files:
        version = path.stem.rsplit("-", 1)[-1]
        versions.add(version)
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            body = list(reader)
        assert MANDATORY[version] <= set(header), path.name
        if version == "1.0":
            assert not ONLY_1_1_AND_LATER & set(header)
        if version != "1.3":
            assert not ONLY_1_3_AND_LATER & set(header)
        custom = [i for i, c in enumerate(header) if c.startswith("x_")]
        assert custom == list(range(len(header) - len(custom), len(header)))  # x_ columns last
        for n, r in enumerate(body, start=1):
            for c in NOT_NULL & set(header):
                assert r[c] != "", (path.name, n, c)
            for c in DECIMALS & set(header):
                if r[c]:
                    Decimal(r[c])
            for c in (
                "ChargePeriodStart",
                "ChargePeriodEnd",
                "BillingPeriodStart",
                "BillingPeriodEnd",
            ):
                assert RFC3339.match(r[c]), (path.name, n, c)
            assert r["ChargeCategory"] in {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
            if r["Tags"]:
                assert isinstance(json.loads(r["Tags"]), dict)
            if r["ChargeCategory"] == "Usage" and r["x_GpuCount"]:
                assert r["x_GpuModel"]
                assert r["x_InstanceType"]
    assert versions == {"1.0", "1.2", "1.3"}


def test_bill_has_every_kind_of_charge(rows: list[dict[str, str]]) -> None:
    categories = {r["ChargeCategory"] for r in rows}
    assert categories == {"Usage", "Purchase", "Tax", "Credit"}
    assert {r["PricingCategory"] for r in rows} >= {"Standard", "Dynamic", "Committed"}
    assert {r["ServiceCategory"] for r in rows} >= {"Compute", "Storage", "Networking"}
    tag_keys = {k for r in rows if r["Tags"] for k in json.loads(r["Tags"])}
    assert {"team", "Team", "team_name", "project", "env"} <= tag_keys


def test_amortized_effective_cost_sums_to_the_commitment(rows: list[dict[str, str]]) -> None:
    by_commitment: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in rows:
        if r["CommitmentDiscountId"]:
            by_commitment[r["CommitmentDiscountId"]][r["ChargeCategory"]] += Decimal(
                r["EffectiveCost"]
            )
            by_commitment[r["CommitmentDiscountId"]]["billed_" + r["ChargeCategory"]] += Decimal(
                r["BilledCost"]
            )
    assert by_commitment
    for sums in by_commitment.values():
        assert sums["Purchase"] == 0  # the purchase row carries no EffectiveCost
        assert sums["billed_Usage"] == 0  # covered hours are paid by the purchase
        assert abs(sums["Usage"] - sums["billed_Purchase"]) < Decimal("0.0001")
    statuses = {r["CommitmentDiscountStatus"] for r in rows if r["CommitmentDiscountId"]}
    assert statuses == {"Used", "Unused", ""}


def test_telemetry_covers_exactly_the_billed_gpu_hours(
    org: DemoOrg, rows: list[dict[str, str]]
) -> None:
    billed = {(r["ResourceName"], _hour(r["ChargePeriodStart"])): int(r["x_GpuCount"])
              for r in rows if r["x_GpuCount"]}  # fmt: skip
    seen = _telemetry(org)
    assert set(billed) == set(seen)
    for key, gpus in billed.items():
        assert {g for g, _, _ in seen[key]} == set(range(gpus)), key


def test_ground_truth_is_reproduced_from_the_files(
    org: DemoOrg, rows: list[dict[str, str]], truth: dict[str, Any]
) -> None:
    seen = _telemetry(org)
    approx = lambda x: pytest.approx(x, rel=1e-6, abs=1e-4)  # noqa: E731

    def all_idle(name: str) -> float:
        cost = _cost_by_hour(rows, name)
        return sum(c for t, c in cost.items() if all(u == 0 for _, u, _ in seen[(name, t)]))

    for kind in ("idle_gpu_nights_weekends", "forgotten_dev_instance"):
        for case in _case(truth, kind):
            assert case["wasted_usd"] > 0
            assert all_idle(case["resource_names"][0]) == approx(case["wasted_usd"])

    # Idle GPUs inside a busy instance: the GPUs at 0 % in every sample of the window, while
    # another GPU of the host works; per hour, cost x those GPUs / the host's GPUs.
    for case in _case(truth, "idle_gpus_in_busy_instance"):
        name = case["resource_names"][0]
        cost = _cost_by_hour(rows, name)
        util: dict[int, list[int]] = defaultdict(list)
        for t in cost:
            for g, u, _ in seen[(name, t)]:
                util[g].append(u)
        never = sorted(g for g, us in util.items() if max(us) == 0)
        assert never == case["details"]["idle_gpu_indices"] and len(never) < len(util)
        share = len(never) / int(next(r["x_GpuCount"] for r in rows if r["ResourceName"] == name))
        assert sum(c * share for c in cost.values()) == approx(case["wasted_usd"])

    runs = [
        json.loads(line)
        for line in (org.out / "workloads/tracker-runs.jsonl").read_text().splitlines()
    ]
    for case in _case(truth, "runaway_job"):
        run = next(r for r in runs if r["resource_id"] == case["resource_ids"][0])
        cutoff = _hour(run["start"]).timestamp() + math.ceil(run["params"]["max_hours"]) * 3600
        cost = _cost_by_hour(rows, case["resource_names"][0])
        assert sum(c for t, c in cost.items() if t.timestamp() >= cutoff) == approx(
            case["wasted_usd"]
        )

    from mlcost.demo._prices import SKUS

    for case in _case(truth, "spot_eligible_on_demand"):
        name = case["resource_names"][0]
        sku = SKUS[next(r["x_InstanceType"] for r in rows if r["ResourceName"] == name)]
        cost = _cost_by_hour(rows, name)
        assert sum(c - sku.spot for c in cost.values()) == approx(case["wasted_usd"])

    for case in _case(truth, "oversized_gpu"):
        name = case["resource_names"][0]
        cost = _cost_by_hour(rows, name)
        small = SKUS["Standard_NC4as_T4_v3"]
        assert max(m for t in cost for _, _, m in seen[(name, t)]) < small.gpu_memory_mib
        assert sum(c - small.on_demand for c in cost.values()) == approx(case["wasted_usd"])

    (case,) = _case(truth, "overprovisioned_endpoint")
    names = case["resource_names"]
    per_time: dict[tuple[datetime, int], float] = defaultdict(float)
    path = org.out / "telemetry/dcgm/eks-serving.om.txt"
    pattern = re.compile(r'^DCGM_FI_DEV_GPU_UTIL\{gpu="\d+".*Hostname="([^"]+)".*\} (\d+) (\d+)$')
    gpus = {n: int(next(r["x_GpuCount"] for r in rows if r["ResourceName"] == n)) for n in names}
    for line in path.read_text().splitlines():
        m = pattern.match(line)
        if m and m[1] in gpus:
            per_time[(datetime.fromtimestamp(int(m[3]), UTC), 0)] += int(m[2]) / gpus[m[1]]
    needed = max(1, math.ceil(max(per_time.values()) / 60))
    total = sum(sum(_cost_by_hour(rows, n).values()) for n in names)
    assert needed < len(names)
    assert total * (len(names) - needed) / len(names) == approx(case["wasted_usd"])

    (case,) = _case(truth, "cross_region_transfer")
    transfer = 0.0
    for r in rows:
        details = json.loads(r.get("SkuPriceDetails") or "{}")
        if details.get("x_ToRegion") not in (None, "internet", details.get("x_FromRegion")):
            transfer += float(r["EffectiveCost"])
    assert transfer == approx(case["wasted_usd"])

    # Early stopping: the planted runs' eval_loss stops improving by >= 0.5 %; the waste is
    # the hours from the first whole hour after the 5th evaluation past the last improvement.
    for case in _case(truth, "early_stop"):
        run = next(r for r in runs if r["resource_id"] == case["resource_ids"][0])
        points = run["metric_history"]["eval_loss"]
        best, last = points[0]["value"], 0
        for i, p in enumerate(points):
            if best - p["value"] >= 0.005 * best:
                best, last = p["value"], i
        stop = _hour(points[last + 5]["time"]).timestamp()
        cost = _cost_by_hour(rows, case["resource_names"][0])
        assert case["wasted_usd"] > 0
        assert sum(c for t, c in cost.items() if t.timestamp() >= stop) == approx(
            case["wasted_usd"]
        )

    (case,) = _case(truth, "spend_anomaly")
    assert sum(sum(_cost_by_hour(rows, n).values()) for n in case["resource_names"]) == approx(
        case["wasted_usd"]
    )

    untagged = sum(float(r["EffectiveCost"]) for r in rows
                   if not (r["Tags"] and set(json.loads(r["Tags"])) & set(TEAM_KEYS)))  # fmt: skip
    total = sum(float(r["EffectiveCost"]) for r in rows)
    (case,) = _case(truth, "untagged_share")
    assert untagged == approx(case["wasted_usd"])
    assert total == approx(truth["total_usd"])
    assert 0.02 < case["details"]["share"] < 0.5


def test_workload_records_have_their_formats(org: DemoOrg) -> None:
    lines = (org.out / "workloads/slurm-sacct.txt").read_text().splitlines()
    header = lines[0].split("|")
    assert header[:2] == ["JobID", "JobName"]
    assert "AllocTRES" in header
    assert all(len(line.split("|")) == len(header) for line in lines[1:])
    for cluster in ("eks-serving", "gke-vision"):
        body = json.loads((org.out / f"workloads/opencost-{cluster}.json").read_text())
        assert body["code"] == 200
        assert len(body["data"]) == org.days
        alloc = next(iter(body["data"][0].values()))
        assert {"name", "properties", "window", "gpuHours", "gpuCost", "totalCost"} <= set(alloc)
    runs = (org.out / "workloads/tracker-runs.jsonl").read_text().splitlines()
    assert all({"experiment", "run_id", "params", "metrics"} <= set(json.loads(r)) for r in runs)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (make tools)")
def test_promtool_accepts_the_dcgm_openmetrics(org: DemoOrg, tmp_path: Path) -> None:
    for path in (org.out / "telemetry/dcgm").glob("*.om.txt"):
        subprocess.run(
            [
                "promtool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(path),
                str(tmp_path / path.stem),
            ],
            check=True,
            capture_output=True,
        )


@pytest.mark.parametrize(
    "kwargs",
    [{"days": 0}, {"seed": -1}, {"scale": 0}, {"sample_minutes": 7}],
)
def test_bad_arguments_say_what_to_use(tmp_path: Path, kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match=r"must|use"):
        generate_demo(tmp_path, **kwargs)


def test_the_served_model_counters_and_the_api_bill_load(org: DemoOrg, tmp_path: Path) -> None:
    from mlcost import open_warehouse
    from mlcost.sources.openai import ingest_openai
    from mlcost.sources.serving_metrics import ingest_serving_metrics

    counters = org.out / "telemetry/vllm/llm-chat-8gpu.om.txt"
    # The prompt counter as written: it falls once (the engine restarted and counts from
    # zero), so what was served is its growth before the drop plus its last value.
    values = [
        float(line.split()[1])
        for line in counters.read_text().splitlines()
        if line.startswith("vllm:prompt_tokens_total")
    ]
    drops = [i for i in range(1, len(values)) if values[i] < values[i - 1]]
    assert len(drops) == 1
    served = values[drops[0] - 1] - values[0] + values[-1]
    bill = json.loads((org.out / "api-bills/openai-costs.json").read_text())
    amounts = [
        Decimal(str(r["amount"]["value"]))
        for page in bill
        for b in page["data"]
        for r in b["results"]
    ]
    with open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}") as wh:
        ingest_serving_metrics(wh, [counters])
        rows = wh.table("served_tokens").to_pyarrow().to_pylist()
        assert {(r["endpoint"], r["model"]) for r in rows} == {("llm-chat-8gpu", "atlas-7b-chat")}
        assert sum(r["input_tokens"] for r in rows) == served
        assert len(rows) == org.days * 24  # every hour of the always-on endpoint
        result = ingest_openai(wh, sorted((org.out / "api-bills").glob("*.json")))
        assert result.effective_cost == {"USD": sum(amounts, Decimal(0))}
        assert not result.warnings  # every cost row found its tokens
