"""What a device can compute: the number formats of each GPU architecture, and CPU offers.

Formats by architecture follow the vendors' documentation (NVIDIA CUDA programming guide,
"arithmetic instructions" and the tensor-core tables of each architecture whitepaper; AMD CDNA 3
whitepaper): bf16 from Ampere (compute capability 8.0), fp8 from Ada (8.9) and Hopper (9.0),
int8 tensor cores and bitsandbytes' 8/4-bit kernels from Turing (7.5). Volta (V100) and Turing
(T4) compute fp16 but not bf16.

CPU offers (``cpu_instances.csv``) carry the instance's peak dense throughput: physical cores
(vCPUs / 2) x base clock x FLOPs per cycle per core of its vector units (AVX-512: 2 FMA units x
16 fp32 lanes x 2 = 64; Sapphire Rapids' AMX: 1,024 bf16 FLOPs per cycle per core).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["CpuOffer", "cpu_offers", "gpu_architecture", "gpu_formats"]

_ARCH: dict[str, str] = {
    "M4000": "maxwell",
    "M60": "maxwell",
    "P100": "pascal",
    "P4": "pascal",
    "P4000": "pascal",
    "V100": "volta",
    "V100-32GB": "volta",
    "T4": "turing",
    "RTX6000": "turing",
    "A10": "ampere",
    "A10G": "ampere",
    "A100-40GB": "ampere",
    "A100-80GB": "ampere",
    "A4000": "ampere",
    "A5000": "ampere",
    "A6000": "ampere",
    "RTX3060": "ampere",
    "RTX3090": "ampere",
    "L4": "ada",
    "L40": "ada",
    "L40S": "ada",
    "RTX4060": "ada",
    "RTX4070": "ada",
    "RTX4090": "ada",
    "RTX5880-Ada": "ada",
    "RTX6000-Ada": "ada",
    "H100": "hopper",
    "H200": "hopper",
    "GH200": "hopper",
    "B200": "blackwell",
    "B300": "blackwell",
    "RTX5070": "blackwell",
    "RTX5090": "blackwell",
    "RTX-PRO-6000": "blackwell",
    "MI25": "gcn5",
    "MI300X": "cdna3",
    "TPU v5e": "tpu",
}

_FORMATS: dict[str, frozenset[str]] = {
    "maxwell": frozenset({"fp32"}),
    "pascal": frozenset({"fp32", "fp16"}),
    "volta": frozenset({"fp32", "fp16"}),
    "turing": frozenset({"fp32", "fp16", "int8", "int4"}),
    "ampere": frozenset({"fp32", "fp16", "bf16", "int8", "int4"}),
    "ada": frozenset({"fp32", "fp16", "bf16", "fp8", "int8", "int4"}),
    "hopper": frozenset({"fp32", "fp16", "bf16", "fp8", "int8", "int4"}),
    "blackwell": frozenset({"fp32", "fp16", "bf16", "fp8", "int8", "int4"}),
    "gcn5": frozenset({"fp32", "fp16"}),
    "cdna3": frozenset({"fp32", "fp16", "bf16", "fp8", "int8", "int4"}),
    "tpu": frozenset({"fp32", "bf16", "int8"}),
}


def gpu_architecture(gpu: str) -> str | None:
    """The architecture of a canonical GPU name (``"volta"``, ``"hopper"``…), or None."""
    return _ARCH.get(gpu)


def gpu_formats(gpu: str) -> frozenset[str] | None:
    """Number formats a GPU computes natively (``fp32 fp16 bf16 fp8 int8 int4``), or None when
    its architecture is unknown."""
    arch = _ARCH.get(gpu)
    return _FORMATS[arch] if arch else None


@dataclass(frozen=True)
class CpuOffer:
    """A CPU instance type at its cheapest region; prices in USD per instance-hour."""

    cloud: str
    instance_type: str
    vcpus: int
    memory_gib: float
    region: str
    ondemand_usd_per_hour: float
    spot_usd_per_hour: float | None
    cpu: str
    peak_fp32_tflops: float
    peak_bf16_tflops: float
    price_date: str
    source: str

    def price(self, purchase: str = "ondemand") -> float | None:
        return {"ondemand": self.ondemand_usd_per_hour, "spot": self.spot_usd_per_hour}.get(
            purchase
        )


@lru_cache(maxsize=1)
def cpu_offers() -> tuple[CpuOffer, ...]:
    """The packaged CPU offers (``mlcost/data/catalog/cpu_instances.csv``)."""
    text = (
        resources.files("mlcost")
        .joinpath("data", "catalog", "cpu_instances.csv")
        .read_text(encoding="utf-8")
    )
    out = []
    for r in csv.DictReader(text.splitlines()):
        cores = int(r["vcpus"]) / 2
        ghz = float(r["base_ghz"])
        out.append(
            CpuOffer(
                cloud=r["cloud"],
                instance_type=r["instance_type"],
                vcpus=int(r["vcpus"]),
                memory_gib=float(r["memory_gib"]),
                region=r["region"],
                ondemand_usd_per_hour=float(r["ondemand_usd_per_hour"]),
                spot_usd_per_hour=float(r["spot_usd_per_hour"]) if r["spot_usd_per_hour"] else None,
                cpu=r["cpu"],
                peak_fp32_tflops=cores * ghz * float(r["fp32_flops_per_cycle"]) / 1e3,
                peak_bf16_tflops=cores * ghz * float(r["bf16_flops_per_cycle"]) / 1e3,
                price_date=r["price_date"],
                source=r["source"],
            )
        )
    return tuple(out)
