"""Rebuild the packaged GPU catalog from a folder of raw price files.

    python scripts/build_catalog.py SOURCE [--out src/mlcost/data/catalog]

Writes ``instances.csv`` (one GPU offer per cloud x instance x region, x zone where zone prices
differ) and ``gpu_specs.csv``. Never imported at run time; the package reads only its output.
``SOURCE`` holds ``gpu-catalog/`` (the files of ``FILES`` and ``gpu_specs.csv``) and
``spot/spot_advisor_flat.csv``; src/mlcost/data/SOURCES.md names the public repository, commit
and licence of each.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from mlcost.catalog import canonical_gpu
from mlcost.catalog._skypilot import COLUMNS, collapse_zones, normalize, read_rows

ROOT = Path(__file__).resolve().parents[1]

# (cloud, file under gpu-catalog/, price date or "" when the source does not expose one, source)
FILES = [
    ("aws", "aws_gpu_vms_subset.csv", "", "skypilot-catalog v8 aws (subset, read 2026)"),
    ("gcp", "anycloud-mirror/gcp_vms.csv", "2026-05-20", "anycloud-sh/catalog gcp 2026-05-20"),
    ("azure", "azure_gpu_vms.csv", "2026-05-20", "anycloud-sh/catalog azure 2026-05-20"),
    ("lambda", "lambda_gpu_vms.csv", "2026-05-07", "anycloud-sh/catalog lambda 2026-05-07"),
    ("vast", "anycloud-mirror/vast_vms.csv", "2026-04-29", "anycloud-sh/catalog vast 2026-04-29"),
    ("nebius", "skypilot-v8/nebius_vms.csv", "", "skypilot-catalog v8 nebius (read 2026)"),
    ("verda", "skypilot-v8/verda_vms.csv", "", "skypilot-catalog v8 verda (read 2026)"),
    ("hyperbolic", "skypilot-v8/hyperbolic_vms.csv", "", "skypilot-catalog v8 hyperbolic (2026)"),
    ("fluidstack", "skypilot-v6/fluidstack_vms.csv", "", "skypilot-catalog v6 fluidstack (old)"),
    ("paperspace", "skypilot-v6/paperspace_vms.csv", "", "skypilot-catalog v6 paperspace (old)"),
    (
        "runpod",
        "skypilot-v7/runpod_vms_sample_first16k.csv",
        "",
        "skypilot-catalog v7 runpod (part)",
    ),
]


def _aws_extras(folder: Path) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    reserved = {}
    vantage = folder / "gpu-catalog/aws-vantage/aws_gpu_ondemand_reserved_by_region.csv"
    with vantage.open(newline="") as fh:
        for r in csv.DictReader(fh):
            value = r["Reserved1yrStdNoUpfrontUSDPerHour"].strip()
            if value and float(value) > 0:
                reserved[(r["InstanceType"], r["Region"])] = value
    bucket = {}
    with (folder / "spot/spot_advisor_flat.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["OS"] == "Linux":
                bucket[(r["InstanceType"], r["Region"])] = r["InterruptionRangeLabel"]
    return reserved, bucket


def build(folder: Path) -> list[dict[str, str]]:
    rows = []
    for cloud, name, date, source in FILES:
        meta = {"price_date": date, "source": source}
        rows.extend(normalize(cloud, read_rows(folder / "gpu-catalog" / name), meta))
    rows = collapse_zones(rows)
    reserved, bucket = _aws_extras(folder)
    for r in rows:
        if r["cloud"] == "aws":
            key = (r["instance_type"], r["region"])
            r["reserved_1y_usd_per_hour"] = reserved.get(key, "")
            r["interruption"] = bucket.get(key, "")
    return rows


def specs(folder: Path) -> list[dict[str, str]]:
    """One row per canonical GPU: the first (SXM / flagship) variant listed in gpu_specs.csv."""
    out: dict[str, dict[str, str]] = {}
    with (folder / "gpu-catalog/gpu_specs.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            name = canonical_gpu(r["accelerator"])
            if name in out:
                continue
            out[name] = {
                "gpu": name,
                "variant": r["variant"],
                "memory_gib": r["memory_gb"].split()[0],
                "bf16_dense_tflops": r["bf16_fp16_tensor_dense_tflops"],
                "fp8_dense_tflops": r["fp8_dense_tflops"],
                "memory_bandwidth_gb_s": r["mem_bw_gb_s"],
                "source": r["sources"].split(" ")[0],
            }
    return list(out.values())


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] | list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source", type=Path, help="folder with gpu-catalog/ and spot/ (src/mlcost/data/SOURCES.md)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "src/mlcost/data/catalog")
    args = parser.parse_args()
    rows = build(args.source)
    _write(args.out / "instances.csv", rows, COLUMNS)
    spec_rows = specs(args.source)
    _write(args.out / "gpu_specs.csv", spec_rows, list(spec_rows[0]))
    print(f"{len(rows)} offers, {len(spec_rows)} GPU specs -> {args.out}")


if __name__ == "__main__":
    main()
