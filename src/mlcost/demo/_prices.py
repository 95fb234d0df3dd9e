"""The few price facts the demo generator needs, copied from the public price catalogs.

Only the demo reads this table; real prices are the catalog's business. Each row names its
source file (see ``mlcost/data/SOURCES.md``, section "demo generator"). USD per instance-hour.
GCP prices GPUs apart from the host VM, so a GCP row is host price + GPU price, both from
``gcp_gpu_vms.csv`` (us-central1-a, snapshot 2026-05-20).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sku:
    """One priced GPU instance type in one region."""

    provider: str
    instance_type: str
    region: str
    gpu_model: str  # the catalog's accelerator name
    gpu_count: int
    gpu_memory_mib: int
    on_demand: float
    spot: float
    reserved_1yr: float | None  # 1-yr standard no-upfront, where the source has it


# fmt: off
SKUS: dict[str, Sku] = {s.instance_type: s for s in (
    # aws_gpu_vms_subset.csv (SkyPilot v8) for on-demand and spot (us-east-1, AZ use1-az2);
    # aws-vantage/aws_gpu_ondemand_reserved_by_region.csv for the 1-yr reserved rate.
    Sku("aws", "p5.48xlarge", "us-east-1", "H100", 8, 81920, 55.04, 19.2531, None),
    Sku("aws", "p4d.24xlarge", "us-east-1", "A100", 8, 40960, 21.957642, 8.1915, 13.921094),
    Sku("aws", "g5.xlarge", "us-east-1", "A10G", 1, 22888, 1.006, 0.4246, 0.63378),
    Sku("aws", "g5.2xlarge", "us-east-1", "A10G", 1, 22888, 1.212, 0.5933, 0.76356),
    Sku("aws", "g5.12xlarge", "us-east-1", "A10G", 4, 22888, 5.672, 2.0796, 3.57336),
    Sku("aws", "g4dn.xlarge", "us-east-1", "T4", 1, 16384, 0.526, 0.2, 0.331),
    # gcp_gpu_vms.csv: host VM + attached GPUs, us-central1-a.
    Sku("gcp", "a2-highgpu-8g", "us-central1", "A100", 8, 40960,
        5.91582 + 8 * 2.93391, 2.958 + 8 * 1.4341, None),
    Sku("gcp", "a3-highgpu-8g", "us-central1", "H100", 8, 81920,
        9.46006 + 33.60609, 3.86318 + 32.0104, None),
    Sku("gcp", "g2-standard-4", "us-central1", "L4", 1, 24576,
        0.14679 + 0.56004, 0.06168 + 0.2343, None),
    # azure_gpu_vms.csv (anycloud mirror of SkyPilot's Azure fetcher), eastus.
    Sku("azure", "Standard_NC24ads_A100_v4", "eastus", "A100-80GB", 1, 81920,
        3.673, 0.746721, None),
    Sku("azure", "Standard_NC4as_T4_v3", "eastus", "T4", 1, 16384, 0.526, 0.204246, None),
    Sku("azure", "Standard_ND96asr_v4", "eastus", "A100", 8, 40960, 27.197, 5.98334, None),
)}
# fmt: on

# Non-GPU unit prices the bill needs. These are not in the shared catalog: they are the
# providers' public list prices as published on their pricing pages (checked 2026), rounded.
S3_STANDARD_GB_MONTH = 0.023  # AWS S3 Standard, first 50 TB, us-east-1
GCS_STANDARD_GB_MONTH = 0.020  # GCP Cloud Storage Standard, us-central1
AZURE_BLOB_HOT_GB_MONTH = 0.0184  # Azure Blob Storage LRS Hot, eastus
AWS_INTER_REGION_GB = 0.02  # AWS data transfer between US regions
AWS_INTERNET_EGRESS_GB = 0.09  # AWS data transfer out to the internet, first 10 TB
MANAGED_K8S_CONTROL_PLANE_HOUR = 0.10  # EKS and GKE standard cluster fee
SALES_TAX_RATE = 0.04  # an assumed flat rate on billed usage, for the Tax rows

# What nvidia-smi prints as `name`, and the board power limit in watts (gpu_specs.csv tdp_w
# where present; A10G 300 W and H100 SXM 700 W from NVIDIA's product pages).
NVIDIA_NAME: dict[str, tuple[str, int]] = {
    "H100": ("NVIDIA H100 80GB HBM3", 700),
    "A100": ("NVIDIA A100-SXM4-40GB", 400),
    "A100-80GB": ("NVIDIA A100 80GB PCIe", 300),
    "A10G": ("NVIDIA A10G", 300),
    "T4": ("Tesla T4", 70),
    "L4": ("NVIDIA L4", 72),
}


# The LLM API the demo compares self-hosting with: OpenAI gpt-4o-mini's published price,
# USD per 1M input / output tokens (openai.com/api/pricing, since 2024-07).
API_NAME = "gpt-4o-mini"
API_USD_PER_1M_INPUT = 0.15
API_USD_PER_1M_OUTPUT = 0.60
