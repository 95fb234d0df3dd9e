"""How much of the demo organization's planted waste the insights find.

For each seed: generate the demo organization, load it exactly as ``mlcost demo`` does, run
every detector with the demo's ``mlcost.toml`` attribution settings, and compare the findings
with ``ground_truth.json`` (only this script and the tests read it). Per planted kind:

- recall: planted cases matched by at least one finding of the matching kind;
- precision: findings of that kind that match a planted case;
- money: sum over cases of min(planted USD, matched findings' ``evidence.window_waste``),
  over the planted USD (the window's money, before the x 30 / days monthly scaling);
  ``estimated USD`` is the matched findings' window_waste without that cap (where the
  catalog's prices differ from the demo's private ones, estimates differ from the truth).

A finding matches a case when it names one of the case's resources (``resource_id``, an
endpoint's ``replica_resource_ids``, an anomaly's ``spike_resources``); the untagged case is
matched by the untagged finding. Commitment findings have no planted case (the demo's steady
on-demand fleet is a real commitment opportunity, not planted waste, and its reservation is
used): they are counted under the table, not scored.

    python benchmarks/insights_eval.py --seeds 0 1 2 3 4 --days 30 --scale 1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# planted kind -> (finding kind, its evidence.pattern (idle pattern, transfer class) or None)
KIND_MAP: dict[str, tuple[str, str | None]] = {
    "idle_gpu_nights_weekends": ("idle_gpu", "nights_weekends"),
    "forgotten_dev_instance": ("idle_gpu", "forgotten"),
    "idle_gpus_in_busy_instance": ("idle_gpu", "unused_gpus"),
    "spot_eligible_on_demand": ("spot", None),
    "runaway_job": ("runaway", None),
    "overprovisioned_endpoint": ("overprovisioned_endpoint", None),
    "oversized_gpu": ("rightsize", None),
    "cross_region_transfer": ("data_transfer", "inter_region"),
    "spend_anomaly": ("anomaly", None),
    "early_stop": ("early_stop", None),
    "untagged_share": ("untagged", None),
}


def _bucket(f: dict[str, Any]) -> str | None:
    """The planted kind a finding competes for (idle findings by their pattern)."""
    for planted, (kind, pattern) in KIND_MAP.items():
        if f["kind"] != kind:
            continue
        if pattern is None or f["evidence"].get("pattern") == pattern:
            return planted
    if f["kind"] == "idle_gpu":  # mostly_idle: counted against nights/weekends
        return "idle_gpu_nights_weekends"
    return None


def _resources(f: dict[str, Any]) -> set[str]:
    ev = f["evidence"]
    out = {f["resource_id"]} if f["resource_id"] else set()
    out.update(ev.get("replica_resource_ids", []))
    out.update(s["value"] for s in ev.get("spike_resources", []))
    return out


def _matches(f: dict[str, Any], case: dict[str, Any]) -> bool:
    if case["kind"] == "untagged_share":
        return True
    return bool(_resources(f) & set(case["resource_ids"]))


def evaluate(truth: dict[str, Any], findings: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per planted kind: cases, found, findings, true findings, planted USD, found USD."""
    out: dict[str, dict[str, float]] = {}
    for planted in KIND_MAP:
        cases = [c for c in truth["cases"] if c["kind"] == planted]
        mine = [f for f in findings if _bucket(f) == planted]
        row = {
            "cases": float(len(cases)),
            "found": 0.0,
            "findings": float(len(mine)),
            "true": float(sum(any(_matches(f, c) for c in cases) for f in mine)),
            "planted_usd": sum(c["wasted_usd"] for c in cases),
            "found_usd": 0.0,
            "estimated_usd": 0.0,
        }
        for c in cases:
            hits = [f for f in mine if _matches(f, c)]
            if hits:
                row["found"] += 1
                got = sum(float(f["evidence"].get("window_waste", 0.0)) for f in hits)
                row["found_usd"] += min(c["wasted_usd"], got)
                row["estimated_usd"] += got
        out[planted] = row
    unplanted = [f for f in findings if _bucket(f) is None]
    out["_unplanted"] = {"findings": float(len(unplanted))}
    return out


def run_seed(seed: int, days: int, scale: float, work: Path) -> dict[str, dict[str, float]]:
    from mlcost import open_warehouse
    from mlcost.cli.demo import WAREHOUSE, _load_and_summarize
    from mlcost.demo import generate_demo
    from mlcost.demo._config import demo_attribution
    from mlcost.insights import run_insights

    out = work / f"seed-{seed}"
    generate_demo(out, days=days, seed=seed, scale=scale)
    _load_and_summarize(out, quiet=True)
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    with open_warehouse(f"duckdb://{(out / WAREHOUSE).resolve()}", read_only=True) as wh:
        findings = [f.as_dict() for f in run_insights(wh, demo_attribution())]
    return evaluate(truth, findings)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """Markdown: per planted kind over all seeds, then the money share with/without untagged."""
    lines = [
        "| planted kind | cases | recall | findings | precision | planted USD | found USD "
        "| money | estimated USD |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = dict.fromkeys(("planted_usd", "found_usd"), 0.0)
    waste = dict.fromkeys(("planted_usd", "found_usd"), 0.0)
    for planted in KIND_MAP:
        r = {
            k: sum(res[planted][k] for res in results.values())
            for k in next(iter(results.values()))[planted]
        }
        for k in total:
            total[k] += r[k]
            if planted != "untagged_share":
                waste[k] += r[k]
        lines.append(
            f"| {planted} | {r['cases']:.0f} | {_ratio(r['found'], r['cases'])} | "
            f"{r['findings']:.0f} | {_ratio(r['true'], r['findings'])} | "
            f"{r['planted_usd']:,.0f} | {r['found_usd']:,.0f} | "
            f"{_ratio(r['found_usd'], r['planted_usd'])} | {r['estimated_usd']:,.0f} |"
        )
    lines.append(
        f"| **all but untagged** | | | | | {waste['planted_usd']:,.0f} | "
        f"{waste['found_usd']:,.0f} | {_ratio(waste['found_usd'], waste['planted_usd'])} | |"
    )
    lines.append(
        f"| **all** | | | | | {total['planted_usd']:,.0f} | {total['found_usd']:,.0f} | "
        f"{_ratio(total['found_usd'], total['planted_usd'])} | |"
    )
    extra = sum(res.get("_unplanted", {}).get("findings", 0.0) for res in results.values())
    lines.append(f"\nFindings of kinds with no planted case (commitment): {extra:.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--per-seed", action="store_true", help="Also print one table per seed.")
    args = p.parse_args(argv)
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="mlcost-insights-eval-") as tmp:
        for seed in args.seeds:
            t0 = time.perf_counter()
            results[seed] = run_seed(seed, args.days, args.scale, Path(tmp))
            print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            if args.per_seed:
                print(f"\nseed {seed}\n\n{table({seed: results[seed]})}\n")
    print(
        f"seeds {' '.join(map(str, args.seeds))}, {args.days} days, scale {args.scale}\n\n"
        f"{table(results)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
