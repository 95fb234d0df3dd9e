"""``import_skypilot``: a SkyPilot checkout becomes a catalog version over the packaged one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlcost.catalog import hourly_price, import_skypilot, offers
from mlcost.errors import InvalidInput, MissingColumn

# Two lines of the real lambda file (anycloud-sh/catalog 2026-05-07), price changed to 9.99 so
# that the test can tell the import from the packaged data.
LAMBDA = (
    "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice\n"
    "gpu_8x_v100_n,V100,8.0,88.0,448.0,9.99,europe-central-1,"
    "\"{'Gpus': [{'Name': 'V100', 'Manufacturer': 'NVIDIA', 'Count': 8.0, "
    "'MemoryInfo': {'SizeInMiB': 16384}}], 'TotalGpuMemoryInMiB': 16384}\",\n"
)


def test_import_replaces_that_cloud_and_keeps_the_rest(tmp_path: Path) -> None:
    checkout = tmp_path / "catalogs/v8"
    (checkout / "lambda").mkdir(parents=True)
    (checkout / "lambda/vms.csv").write_text(LAMBDA)
    home = tmp_path / "home"
    result = import_skypilot(checkout, home=home, now=datetime(2026, 6, 1, tzinfo=UTC))
    assert result.offers_per_cloud == {"lambda": 1}
    assert result.version == "2026-06-01T000000Z"
    assert (home / result.version / "instances.csv").is_file()
    active = offers(home=home)
    assert [o.ondemand_usd_per_hour for o in active if o.cloud == "lambda"] == [9.99]
    assert any(o.cloud == "aws" for o in active)  # packaged fallback for other clouds
    assert hourly_price("gpu_8x_v100_n", home=home) == 9.99


def test_import_rejects_a_folder_without_catalogs(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no <cloud>/vms\.csv"):
        import_skypilot(tmp_path, home=tmp_path / "home")
    with pytest.raises(InvalidInput, match="not a folder"):
        import_skypilot(tmp_path / "missing", home=tmp_path / "home")


def test_import_rejects_a_foreign_csv(tmp_path: Path) -> None:
    (tmp_path / "aws").mkdir()
    (tmp_path / "aws/vms.csv").write_text("name,price\nx,1\n")
    with pytest.raises(MissingColumn, match="InstanceType"):
        import_skypilot(tmp_path, home=tmp_path / "home")
