"""The GPU catalog: packaged offers, imported refreshes, look-ups and listings.

This module alone reads the catalog CSVs. Everything else asks it, e.g.
``hourly_price("p4d.24xlarge", region="us-east-1", purchase="spot")``. All prices are USD per
instance-hour; ``CURRENCY`` says so in every result.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from mlcost.catalog._names import canonical_gpu, nearest
from mlcost.catalog._skypilot import COLUMNS, collapse_zones, normalize, read_rows
from mlcost.config import catalog_home
from mlcost.errors import InvalidInput, NoFit, UnknownName

__all__ = [
    "CURRENCY",
    "PURCHASES",
    "CatalogImport",
    "GpuListing",
    "GpuSpec",
    "Offer",
    "catalog_home",
    "gpu_spec",
    "gpu_specs",
    "hourly_price",
    "import_skypilot",
    "list_gpus",
    "offers",
]

CURRENCY = "USD"
Purchase = Literal["ondemand", "spot", "reserved_1y"]
PURCHASES: tuple[Purchase, ...] = ("ondemand", "spot", "reserved_1y")
_SEE = "mlcost gpus"


@dataclass(frozen=True)
class Offer:
    """One GPU instance type in one region (and zone, where zone prices differ)."""

    cloud: str
    instance_type: str
    gpu: str
    gpu_count: int
    gpu_memory_gib: float | None
    vcpus: float | None
    memory_gib: float | None
    region: str
    zone: str
    ondemand_usd_per_hour: float | None
    spot_usd_per_hour: float | None
    reserved_1y_usd_per_hour: float | None
    interruption: str
    price_date: str
    source: str

    def price(self, purchase: Purchase = "ondemand") -> float | None:
        """USD per instance-hour for a purchase option, or None where the source has none."""
        return {
            "ondemand": self.ondemand_usd_per_hour,
            "spot": self.spot_usd_per_hour,
            "reserved_1y": self.reserved_1y_usd_per_hour,
        }[purchase]


@dataclass(frozen=True)
class GpuSpec:
    """Datasheet facts of one GPU model (dense tensor throughput, memory)."""

    gpu: str
    variant: str
    memory_gib: float | None
    bf16_dense_tflops: float | None
    fp8_dense_tflops: float | None
    memory_bandwidth_gb_s: float | None
    source: str


@dataclass(frozen=True)
class GpuListing:
    """One row of ``mlcost gpus``: an instance type at its cheapest region."""

    gpu: str
    gpu_count: int
    gpu_memory_gib: float | None
    cloud: str
    instance_type: str
    purchase: str
    usd_per_hour: float
    usd_per_gpu_hour: float
    cheapest_region: str
    regions: int
    interruption: str
    price_date: str
    currency: str = CURRENCY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CatalogImport:
    """What ``import_skypilot`` wrote: a new catalog version and its offers per cloud."""

    version: str
    path: str
    offers_per_cloud: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "offers_per_cloud": dict(self.offers_per_cloud)}


def _num(text: str) -> float | None:
    return float(text) if text else None


def _offer(row: Mapping[str, str]) -> Offer:
    return Offer(
        cloud=row["cloud"],
        instance_type=row["instance_type"],
        gpu=row["gpu"],
        gpu_count=int(row["gpu_count"]),
        gpu_memory_gib=_num(row["gpu_memory_gib"]),
        vcpus=_num(row["vcpus"]),
        memory_gib=_num(row["memory_gib"]),
        region=row["region"],
        zone=row["zone"],
        ondemand_usd_per_hour=_num(row["ondemand_usd_per_hour"]),
        spot_usd_per_hour=_num(row["spot_usd_per_hour"]),
        reserved_1y_usd_per_hour=_num(row["reserved_1y_usd_per_hour"]),
        interruption=row["interruption"],
        price_date=row["price_date"],
        source=row["source"],
    )


def _read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines()))


def _packaged(name: str) -> str:
    return resources.files("mlcost").joinpath("data", "catalog", name).read_text(encoding="utf-8")


def _latest_import(home: Path) -> Path | None:
    if not home.is_dir():
        return None
    versions = sorted(p for p in home.iterdir() if (p / "instances.csv").is_file())
    return versions[-1] if versions else None


@lru_cache(maxsize=8)
def _load(home: str) -> tuple[Offer, ...]:
    rows = _read_csv(_packaged("instances.csv"))
    latest = _latest_import(Path(home))
    if latest is not None:
        imported = _read_csv((latest / "instances.csv").read_text(encoding="utf-8"))
        replaced = {r["cloud"] for r in imported}
        rows = imported + [r for r in rows if r["cloud"] not in replaced]
    return tuple(_offer(r) for r in rows)


def offers(*, home: Path | None = None) -> tuple[Offer, ...]:
    """Every offer of the active catalog: the newest import over the packaged data.

    Clouds present in the newest ``mlcost catalog import`` replace the packaged rows of those
    clouds; other clouds keep the packaged rows.

    >>> any(o.instance_type == "p4d.24xlarge" for o in offers())
    True
    """
    return _load(str(home or catalog_home()))


@lru_cache(maxsize=1)
def gpu_specs() -> Mapping[str, GpuSpec]:
    """Datasheet specs by canonical GPU name (packaged ``gpu_specs.csv``)."""
    out = {}
    for r in _read_csv(_packaged("gpu_specs.csv")):
        out[r["gpu"]] = GpuSpec(
            gpu=r["gpu"],
            variant=r["variant"],
            memory_gib=_num(r["memory_gib"]),
            bf16_dense_tflops=_num(r["bf16_dense_tflops"]),
            fp8_dense_tflops=_num(r["fp8_dense_tflops"]),
            memory_bandwidth_gb_s=_num(r["memory_bandwidth_gb_s"]),
            source=r["source"],
        )
    return out


def gpu_spec(name: str) -> GpuSpec:
    """Specs of one GPU, by any spelling a catalog uses (``"A100"`` is the 40 GB model)."""
    specs = gpu_specs()
    key = canonical_gpu(name)
    if key not in specs:
        raise UnknownName("GPU spec", name, nearest(name, specs), see="mlcost gpus")
    return specs[key]


def _check_name(kind: str, name: str, valid: Iterable[str], see: str = _SEE) -> None:
    valid = set(valid)
    if name not in valid:
        raise UnknownName(kind, name, nearest(name, valid), see=see)


def hourly_price(
    instance_type: str,
    *,
    region: str | None = None,
    purchase: Purchase = "ondemand",
    cloud: str | None = None,
    home: Path | None = None,
) -> float:
    """USD per hour of ``instance_type``; with no ``region``, the cheapest region's price.

    >>> hourly_price("p4d.24xlarge", region="us-east-1")
    21.957642
    """
    if purchase not in PURCHASES:
        raise UnknownName("purchase option", purchase, nearest(purchase, PURCHASES))
    candidates = [o for o in offers(home=home) if cloud is None or o.cloud == cloud]
    _check_name("instance type", instance_type, (o.instance_type for o in candidates))
    candidates = [o for o in candidates if o.instance_type == instance_type]
    if region is not None:
        _check_name(
            f"region for {instance_type}",
            region,
            (o.region for o in candidates),
            see=f"mlcost gpus --instance {instance_type}",
        )
        candidates = [o for o in candidates if o.region == region]
    prices = [p for o in candidates if (p := o.price(purchase)) is not None]
    if not prices:
        where = f" in {region!r}" if region else ""
        raise NoFit(
            f"No {purchase} price for {instance_type!r}{where} in the catalog. "
            f"Try another purchase option or region; see: {_SEE} --instance {instance_type}"
        )
    return min(prices)


def list_gpus(
    *,
    gpu: str | None = None,
    cloud: str | None = None,
    instance_type: str | None = None,
    min_memory_gib: float | None = None,
    purchase: Purchase = "ondemand",
    sort: Literal["price", "gpu-price", "memory", "name"] = "price",
    home: Path | None = None,
) -> list[GpuListing]:
    """Offers grouped by (cloud, instance type), each at its cheapest region, like
    ``sky show-gpus``. ``min_memory_gib`` filters on per-GPU memory.

    >>> rows = list_gpus(gpu="H100", cloud="aws")
    >>> rows[0].gpu, rows[0].currency
    ('H100', 'USD')
    """
    if min_memory_gib is not None and min_memory_gib < 0:
        raise InvalidInput(
            f"min memory must be zero or more, got {min_memory_gib}", fix="give GiB per GPU"
        )
    all_offers = offers(home=home)
    selected = list(all_offers)
    if cloud is not None:
        _check_name("cloud", cloud, (o.cloud for o in all_offers))
        selected = [o for o in selected if o.cloud == cloud]
    if gpu is not None:
        wanted = canonical_gpu(gpu)
        names = {o.gpu for o in all_offers}
        _check_name("GPU", wanted, names)
        selected = [o for o in selected if o.gpu == wanted]
    if instance_type is not None:
        _check_name("instance type", instance_type, (o.instance_type for o in all_offers))
        selected = [o for o in selected if o.instance_type == instance_type]
    if min_memory_gib is not None:
        selected = [o for o in selected if (o.gpu_memory_gib or 0) >= min_memory_gib]
    best: dict[tuple[str, str], tuple[Offer, float]] = {}
    regions: Counter[tuple[str, str]] = Counter()
    for o in selected:
        price = o.price(purchase)
        if price is None:
            continue
        key = (o.cloud, o.instance_type)
        regions[key] += 1
        if key not in best or price < best[key][1]:
            best[key] = (o, price)
    rows = [
        GpuListing(
            gpu=o.gpu,
            gpu_count=o.gpu_count,
            gpu_memory_gib=o.gpu_memory_gib,
            cloud=o.cloud,
            instance_type=o.instance_type,
            purchase=purchase,
            usd_per_hour=price,
            usd_per_gpu_hour=round(price / o.gpu_count, 6),
            cheapest_region=o.region + (f"/{o.zone}" if o.zone else ""),
            regions=regions[key],
            interruption=o.interruption,
            price_date=o.price_date,
        )
        for key, (o, price) in best.items()
    ]
    sort_keys = {
        "price": lambda r: (r.usd_per_hour, r.instance_type),
        "gpu-price": lambda r: (r.usd_per_gpu_hour, r.instance_type),
        "memory": lambda r: (-(r.gpu_memory_gib or 0) * r.gpu_count, r.usd_per_hour),
        "name": lambda r: (r.gpu, r.gpu_count, r.cloud, r.instance_type),
    }
    if sort not in sort_keys:
        raise UnknownName("sort key", sort, nearest(sort, sort_keys))
    return sorted(rows, key=sort_keys[sort])


# SkyPilot catalog folders we know how to read: <dir>/<cloud>/vms.csv.
_IMPORTABLE = (
    "aws",
    "azure",
    "cudo",
    "fluidstack",
    "gcp",
    "hyperbolic",
    "lambda",
    "nebius",
    "oci",
    "paperspace",
    "runpod",
    "vast",
    "verda",
)


def import_skypilot(
    directory: Path, *, home: Path | None = None, now: datetime | None = None
) -> CatalogImport:
    """Import a SkyPilot catalog checkout (a folder holding ``<cloud>/vms.csv``).

    The result is written as a new version under :func:`catalog_home`; the packaged data stays
    as the fallback for clouds the import lacks. Nothing is fetched.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InvalidInput(
            "not a folder",
            file=directory,
            fix="give a SkyPilot catalog checkout, e.g. skypilot-catalog/catalogs/v8",
        )
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H%M%SZ")
    rows: list[dict[str, str]] = []
    for cloud in _IMPORTABLE:
        path = directory / cloud / "vms.csv"
        if path.is_file():
            meta = {"price_date": now.date().isoformat(), "source": f"skypilot import {path}"}
            rows.extend(normalize(cloud, read_rows(path), meta))
    if not rows:
        raise InvalidInput(
            "no <cloud>/vms.csv with GPU offers found",
            file=directory,
            fix="point at a folder that holds <cloud>/vms.csv for one of: "
            + ", ".join(_IMPORTABLE),
        )
    rows = collapse_zones(rows)
    target = (home or catalog_home()) / stamp
    target.mkdir(parents=True, exist_ok=True)
    with (target / "instances.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    counts = Counter(r["cloud"] for r in rows)
    (target / "meta.json").write_text(
        json.dumps({"imported_from": str(directory), "version": stamp, "offers": dict(counts)})
    )
    _load.cache_clear()
    return CatalogImport(
        version=stamp, path=str(target), offers_per_cloud=dict(sorted(counts.items()))
    )
