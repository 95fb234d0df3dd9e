"""``generate_demo``: write a month of a fictional ML organization to a folder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlcost.demo._focus import VERSION, build_bill, write_focus
from mlcost.demo._org import build_org
from mlcost.demo._serving import write_openai, write_vllm
from mlcost.demo._telemetry import write_dcgm, write_nvidia_smi
from mlcost.demo._truth import build_truth
from mlcost.demo._workloads import SACCT_FIELDS, write_opencost, write_runs, write_sacct
from mlcost.errors import ConfigError

# Folders generate_demo owns inside the output folder (removed and rewritten each time).
OWNED = ("billing", "telemetry", "workloads", "api-bills")

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class DemoOrg:
    """What generate_demo wrote: where, how many rows per file, and the headline money."""

    out: Path
    seed: int
    days: int
    scale: float
    rows: dict[str, int]  # file path relative to out -> data rows (or samples)
    total_usd: float  # EffectiveCost of all FOCUS rows
    wasted_usd_by_kind: dict[str, float]

    @property
    def focus_files(self) -> list[Path]:
        """The FOCUS CSVs, ready for ``ingest_focus``."""
        return sorted(self.out.glob("billing/*.csv"))


def _check(days: int, seed: int, scale: float, sample_minutes: int) -> None:
    if not 1 <= days <= 92:
        raise ConfigError(f"days={days} is out of range; use 1 to 92 (the default is 30).")
    if seed < 0:
        raise ConfigError(f"seed={seed} must be 0 or more.")
    if not 0 < scale <= 20:
        raise ConfigError(f"scale={scale} is out of range; use more than 0 and at most 20.")
    if sample_minutes <= 0 or 60 % sample_minutes:
        raise ConfigError(f"sample_minutes={sample_minutes} must divide 60 (e.g. 5, 15, 60).")


def generate_demo(
    out: str | Path,
    *,
    days: int = 30,
    seed: int = 0,
    scale: float = 1.0,
    sample_minutes: int = 15,
    progress: Progress | None = None,
) -> DemoOrg:
    """Write a coherent month of a fictional ML organization into ``out``.

    FOCUS bills (``billing/``), GPU telemetry and a vLLM server's counters (``telemetry/``),
    scheduler and tracker records (``workloads/``), a team's OpenAI bill (``api-bills/``: the
    Costs and Usage APIs' pages) and ``ground_truth.json`` of the planted waste. The same
    arguments give byte-identical files; another seed gives another organization.

        >>> import tempfile
        >>> org = generate_demo(tempfile.mkdtemp(), days=1, scale=0.2)
        >>> org.total_usd > 0
        True
    """
    _check(days, seed, scale, sample_minutes)
    step = progress or (lambda _label, _done: None)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    for name in OWNED:
        shutil.rmtree(root / name, ignore_errors=True)
    for sub in ("billing", "telemetry/nvidia-smi", "telemetry/dcgm", "telemetry/vllm", "workloads"):
        (root / sub).mkdir(parents=True)

    step("organization", 0.02)
    org = build_org(seed, days, scale)
    step("bill", 0.05)
    bill, cross_region = build_bill(org)
    rows = {f"billing/{k}": v for k, v in write_focus(bill, root / "billing").items()}

    step("telemetry", 0.25)
    smi_hosts = [h for h in org.hosts if h.telemetry == "nvidia-smi"]
    for i, host in enumerate(smi_hosts):
        rel = f"telemetry/nvidia-smi/{host.name}.csv"
        rows[rel] = write_nvidia_smi(host, root / rel, seed, sample_minutes)
        step("telemetry", 0.25 + 0.55 * (i + 1) / len(smi_hosts))
    endpoint_util: dict[str, list[float]] = {}
    for cluster in sorted({h.cluster for h in org.hosts if h.telemetry == "dcgm"}):
        rel = f"telemetry/dcgm/{cluster}.om.txt"
        members = [h for h in org.hosts if h.cluster == cluster]
        rows[rel], means = write_dcgm(members, root / rel, seed, sample_minutes)
        endpoint_util.update(means)
    rows["telemetry/vllm/llm-chat-8gpu.om.txt"] = write_vllm(
        org, root / "telemetry/vllm/llm-chat-8gpu.om.txt", seed, sample_minutes
    )
    step("workloads", 0.9)
    rows["workloads/slurm-sacct.txt"] = write_sacct(org, root / "workloads/slurm-sacct.txt")
    for cluster in ("eks-serving", "gke-vision"):
        rel = f"workloads/opencost-{cluster}.json"
        rows[rel] = write_opencost(org, cluster, root / rel)
    rows["workloads/tracker-runs.jsonl"] = write_runs(org, root / "workloads/tracker-runs.jsonl")

    for name, n in write_openai(org, root / "api-bills", seed).items():
        rows[f"api-bills/{name}"] = n

    step("ground truth", 0.97)
    truth = build_truth(org, bill, cross_region, endpoint_util)
    _write_json(root / "ground_truth.json", truth)
    manifest = {
        "generator": "mlcost.demo.generate_demo",
        "seed": seed,
        "days": days,
        "scale": scale,
        "sample_minutes": sample_minutes,
        "focus_versions": {f"billing/{p}-focus-{v}.csv": v for p, v in VERSION.items()},
        "sacct_command": "sacct --parsable2 --allocations --format="
        + ",".join(SACCT_FIELDS.split("|"))
        + " (cluster time zone UTC)",
        "opencost_query": f"/allocation?window={days}d&aggregate=pod&step=1d",
        "nvidia_smi_command": "nvidia-smi --query-gpu=timestamp,index,uuid,name,utilization.gpu,"
        f"memory.used,memory.total,power.draw --format=csv -l {sample_minutes * 60}",
        "rows": dict(sorted(rows.items())),
    }
    _write_json(root / "manifest.json", manifest)
    step("done", 1.0)
    return DemoOrg(
        out=root,
        seed=seed,
        days=days,
        scale=scale,
        rows=dict(sorted(rows.items())),
        total_usd=truth["total_usd"],
        wasted_usd_by_kind=truth["wasted_usd_by_kind"],
    )


def _write_json(path: Path, body: object) -> None:
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
