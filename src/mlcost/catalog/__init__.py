"""GPU catalog: packaged, normalized GPU offers across clouds, with prices and specs.

Pure: needs no warehouse. The only reader of the catalog files (``mlcost/data/catalog/``).

    >>> from mlcost.catalog import hourly_price
    >>> hourly_price("p4d.24xlarge", region="us-east-1") > 0
    True
"""

from __future__ import annotations

from mlcost.catalog._catalog import (
    CURRENCY,
    PURCHASES,
    CatalogImport,
    GpuListing,
    GpuSpec,
    Offer,
    catalog_home,
    gpu_spec,
    gpu_specs,
    hourly_price,
    import_skypilot,
    list_gpus,
    offers,
)
from mlcost.catalog._hardware import CpuOffer, cpu_offers, gpu_architecture, gpu_formats
from mlcost.catalog._names import canonical_gpu, nearest

__all__ = [
    "CURRENCY",
    "PURCHASES",
    "CatalogImport",
    "CpuOffer",
    "GpuListing",
    "GpuSpec",
    "Offer",
    "canonical_gpu",
    "catalog_home",
    "cpu_offers",
    "gpu_architecture",
    "gpu_formats",
    "gpu_spec",
    "gpu_specs",
    "hourly_price",
    "import_skypilot",
    "list_gpus",
    "nearest",
    "offers",
]
