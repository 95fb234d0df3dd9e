"""The cost-quality frontier: serve the cheapest model variant that meets the quality bar.

Each variant (full, INT8, INT4, distilled, smaller) has a measured quality (higher is better)
and throughput on an instance. Cost per 1,000 predictions is
``usd_per_hour / (items_per_second * 3600) * 1000``; the hourly price is the row's
``usd_per_hour`` or, when empty, the catalog's price of ``instance`` (``region``, ``purchase``).
A variant is on the frontier when no other is at least as good on both axes and better on one.

    >>> vs = [Variant("full", 0.90, 100, "g5.xlarge", usd_per_hour=1.0),
    ...       Variant("int8", 0.89, 250, "g5.xlarge", usd_per_hour=1.0),
    ...       Variant("tiny", 0.70, 200, "g5.xlarge", usd_per_hour=1.0)]
    >>> r = pareto(vs, quality_floor=0.85)
    >>> r.frontier, r.cheapest_meeting_floor
    (('int8', 'full'), 'int8')
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcost.errors import BadValue, InvalidInput, MissingColumn

__all__ = ["ParetoResult", "PricedVariant", "Variant", "pareto", "plot_pareto", "read_variants"]

REQUIRED = ("variant", "quality", "items_per_second", "instance")


@dataclass(frozen=True)
class Variant:
    """One model variant as measured: quality, throughput and where it ran."""

    variant: str
    quality: float
    items_per_second: float
    instance: str
    region: str | None = None
    purchase: str = "ondemand"
    usd_per_hour: float | None = None


@dataclass(frozen=True)
class PricedVariant:
    """A variant with its price and cost per 1,000 predictions (``currency``)."""

    variant: str
    quality: float
    items_per_second: float
    instance: str
    usd_per_hour: float
    cost_per_1000: float
    on_frontier: bool
    currency: str = "USD"


@dataclass(frozen=True)
class ParetoResult:
    """All variants priced, the frontier (cheapest first) and the cheapest meeting the floor."""

    variants: tuple[PricedVariant, ...]
    frontier: tuple[str, ...]
    quality_floor: float | None
    cheapest_meeting_floor: str | None
    currency: str = "USD"

    def to_dict(self) -> dict[str, Any]:
        return {
            "variants": [v.__dict__ for v in self.variants],
            "frontier": list(self.frontier),
            "quality_floor": self.quality_floor,
            "cheapest_meeting_floor": self.cheapest_meeting_floor,
            "currency": self.currency,
        }


def _price(v: Variant) -> float:
    if v.usd_per_hour is not None:
        return v.usd_per_hour
    from mlcost.catalog import hourly_price

    return hourly_price(v.instance, region=v.region, purchase=v.purchase)  # type: ignore[arg-type]


def pareto(variants: Sequence[Variant], *, quality_floor: float | None = None) -> ParetoResult:
    """Price each variant, find the Pareto-optimal set and the cheapest meeting the floor."""
    if not variants:
        raise InvalidInput("no variants given", fix="one row per model variant")
    names = [v.variant for v in variants]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"variant names repeat: {', '.join(dup)}", fix="name each once")
    costs = []
    for v in variants:
        if not v.items_per_second > 0 or not math.isfinite(v.items_per_second):
            raise InvalidInput(
                f"variant {v.variant!r}: items_per_second must be positive",
                column="items_per_second",
            )
        price = _price(v)
        costs.append((price, price / (v.items_per_second * 3600) * 1000))

    def dominated(i: int) -> bool:
        qi, ci = variants[i].quality, costs[i][1]
        return any(
            variants[j].quality >= qi
            and costs[j][1] <= ci
            and (variants[j].quality > qi or costs[j][1] < ci)
            for j in range(len(variants))
            if j != i
        )

    on = [not dominated(i) for i in range(len(variants))]
    priced = tuple(
        PricedVariant(
            v.variant, v.quality, v.items_per_second, v.instance, price, round(cost, 10), on[i]
        )
        for i, (v, (price, cost)) in enumerate(zip(variants, costs, strict=True))
    )
    frontier = tuple(
        p.variant for p in sorted(priced, key=lambda p: p.cost_per_1000) if p.on_frontier
    )
    cheapest = None
    if quality_floor is not None:
        ok = [p for p in priced if p.quality >= quality_floor]
        if ok:
            cheapest = min(ok, key=lambda p: (p.cost_per_1000, -p.quality)).variant
    return ParetoResult(priced, frontier, quality_floor, cheapest)


def read_variants(path: str | Path) -> list[Variant]:
    """Variants from a CSV with ``variant,quality,items_per_second,instance`` and optional
    ``region,purchase,usd_per_hour``."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise MissingColumn(
                f"missing column(s) {', '.join(missing)}",
                file=path,
                fix="header: variant,quality,items_per_second,instance"
                "[,region,purchase,usd_per_hour]",
            )
        out = []
        for i, row in enumerate(reader, start=1):
            values: dict[str, float | None] = {}
            for col in ("quality", "items_per_second", "usd_per_hour"):
                text = (row.get(col) or "").strip()
                try:
                    values[col] = float(text) if text else None
                except ValueError as exc:
                    raise BadValue(
                        f"{text!r} is not a number", file=path, row=i, column=col
                    ) from exc
                if col != "usd_per_hour" and values[col] is None:
                    raise BadValue("empty", file=path, row=i, column=col)
            quality, ips = values["quality"], values["items_per_second"]
            assert quality is not None and ips is not None
            out.append(
                Variant(
                    row["variant"].strip(),
                    quality,
                    ips,
                    row["instance"].strip(),
                    region=(row.get("region") or "").strip() or None,
                    purchase=(row.get("purchase") or "").strip() or "ondemand",
                    usd_per_hour=values["usd_per_hour"],
                )
            )
    return out


def plot_pareto(result: ParetoResult, path: str | Path) -> Path:
    """Cost per 1,000 against quality, frontier joined, floor drawn; needs ``mlcost[plot]``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InvalidInput("--plot needs matplotlib", fix="pip install 'mlcost[plot]'") from exc
    fig, ax = plt.subplots(figsize=(6, 4))
    for v in result.variants:
        ax.scatter(v.cost_per_1000, v.quality, color="tab:blue" if v.on_frontier else "tab:gray")
        ax.annotate(
            v.variant,
            (v.cost_per_1000, v.quality),
            fontsize=8,
            xytext=(3, 3),
            textcoords="offset points",
        )
    front = sorted((v for v in result.variants if v.on_frontier), key=lambda v: v.cost_per_1000)
    ax.plot([v.cost_per_1000 for v in front], [v.quality for v in front], color="tab:blue")
    if result.quality_floor is not None:
        ax.axhline(result.quality_floor, color="tab:red", linestyle="--", label="quality floor")
        ax.legend()
    ax.set_xlabel(f"cost per 1,000 predictions ({result.currency})")
    ax.set_ylabel("quality")
    ax.set_title("Cost-quality frontier")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
