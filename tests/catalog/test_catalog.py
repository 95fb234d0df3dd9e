"""The packaged catalog (built by scripts/build_catalog.py from public price files) and its look-ups."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mlcost.catalog import gpu_spec, hourly_price, list_gpus, offers
from mlcost.errors import InvalidInput, NoFit, UnknownName


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty catalog home: only the packaged data is active."""
    return tmp_path / "catalog-home"


def test_counts_per_cloud(home: Path) -> None:
    counts = Counter(o.cloud for o in offers(home=home))
    # Offers after zone collapsing; sources: src/mlcost/data/SOURCES.md.
    assert counts == {
        "aws": 555,
        "azure": 721,
        "fluidstack": 23,
        "gcp": 435,
        "hyperbolic": 3,
        "lambda": 391,
        "nebius": 21,
        "paperspace": 14,
        "runpod": 64,
        "vast": 64,
        "verda": 22,
    }


def test_gcp_price_is_host_vm_plus_attached_gpus(home: Path) -> None:
    # gcp_gpu_vms.csv, asia-east1-c: host a3-highgpu-8g 10.95381 + 8 x H100 90.74744 (on-demand),
    # 3.66704 + 30.3912 (spot).
    (offer,) = [
        o
        for o in offers(home=home)
        if o.instance_type == "a3-highgpu-8g" and o.region == "asia-east1"
    ]
    assert offer.gpu == "H100"
    assert offer.gpu_count == 8
    assert offer.ondemand_usd_per_hour == pytest.approx(10.95381 + 90.74744)
    assert offer.spot_usd_per_hour == pytest.approx(3.66704 + 30.3912)


def test_gcp_n1_gpus_use_an_n1_highmem_host(home: Path) -> None:
    t4 = [o for o in offers(home=home) if o.cloud == "gcp" and o.gpu == "T4"]
    assert t4
    assert {o.instance_type for o in t4} <= {"n1-highmem-8", "n1-highmem-16", "n1-highmem-32"}


def test_dirty_values(home: Path) -> None:
    by_key = {(o.instance_type, o.region, o.zone): o for o in offers(home=home)}
    # AWS p4d ap-northeast-1 az1 lists spot 30.0978 against on-demand 30.09784: not a discount.
    assert by_key[("p4d.24xlarge", "ap-northeast-1", "apne1-az1")].spot_usd_per_hour is None
    assert by_key[("p4d.24xlarge", "ap-northeast-1", "apne1-az4")].spot_usd_per_hour == 7.5205
    # GCP's a4-highgpu-8g host is priced 0.0: unknown, so the composed offer has no price.
    a4 = [o for o in offers(home=home) if o.instance_type == "a4-highgpu-8g"]
    assert a4
    assert all(o.ondemand_usd_per_hour is None for o in a4)
    # Azure rows with an unquoted "V1,V2" generation still parse (11 fields, header of 10).
    nc = by_key[("Standard_NC12s_v3", "australiaeast", "")]
    assert (nc.gpu, nc.gpu_count, nc.ondemand_usd_per_hour) == ("V100", 2, 8.468)
    # Lambda repeats the per-GPU size as TotalGpuMemoryInMiB; memory is per GPU everywhere.
    v100 = [o for o in offers(home=home) if o.instance_type == "gpu_8x_v100_n"]
    assert {o.gpu_memory_gib for o in v100} == {16.0}


def test_known_prices(home: Path) -> None:
    # AWS us-east-1 p4d.24xlarge: on-demand 21.957642 (SkyPilot v8), reserved 13.921094 (Vantage).
    assert hourly_price("p4d.24xlarge", region="us-east-1", home=home) == 21.957642
    assert hourly_price("p4d.24xlarge", region="us-east-1", purchase="reserved_1y", home=home) == (
        13.921094
    )
    # Cheapest spot zone of the four us-east-1 zones (2.4655 in use1-az1).
    assert hourly_price("p4d.24xlarge", region="us-east-1", purchase="spot", home=home) == 2.4655


def test_interruption_bucket_from_spot_advisor(home: Path) -> None:
    (g5,) = [
        o
        for o in offers(home=home)
        if o.instance_type == "g5.xlarge" and o.region == "us-east-1" and o.zone in ("", "use1-az1")
    ][:1]
    assert g5.interruption in {"<5%", "5-10%", "10-15%", "15-20%", ">20%"}


def test_list_gpus_cheapest_region_per_offer(home: Path) -> None:
    rows = list_gpus(gpu="H100", cloud="aws", home=home)
    assert [r.instance_type for r in rows] == ["p5.4xlarge", "p5.48xlarge"]
    p5 = rows[1]
    assert p5.usd_per_gpu_hour == pytest.approx(p5.usd_per_hour / 8)
    assert p5.usd_per_hour == hourly_price("p5.48xlarge", home=home)
    assert p5.currency == "USD"


def test_list_gpus_filters(home: Path) -> None:
    rows = list_gpus(min_memory_gib=140, purchase="spot", sort="gpu-price", home=home)
    assert rows
    assert all(r.gpu_memory_gib is not None and r.gpu_memory_gib >= 140 for r in rows)
    assert [r.usd_per_gpu_hour for r in rows] == sorted(r.usd_per_gpu_hour for r in rows)


def test_unknown_names_suggest_nearest(home: Path) -> None:
    with pytest.raises(UnknownName, match=r"Did you mean 'p4d\.24xlarge'") as info:
        hourly_price("p4.24xlarge", home=home)
    assert "mlcost gpus" in str(info.value)
    with pytest.raises(UnknownName) as gpu_info:
        list_gpus(gpu="H10", home=home)
    assert "H100" in gpu_info.value.suggestions
    with pytest.raises(UnknownName, match="us-east-1"):
        hourly_price("p4d.24xlarge", region="us-east1", home=home)
    with pytest.raises(InvalidInput):
        list_gpus(min_memory_gib=-1, home=home)


def test_missing_price_is_no_fit(home: Path) -> None:
    with pytest.raises(NoFit, match="No ondemand price"):
        hourly_price("a4-highgpu-8g", home=home)


def test_gpu_spec_by_any_spelling() -> None:
    assert gpu_spec("A100").memory_gib == 40
    assert gpu_spec("H100-MEGA").bf16_dense_tflops == 989.4
    with pytest.raises(UnknownName, match="H200"):
        gpu_spec("H2000")
