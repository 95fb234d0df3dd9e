"""The CLI contract (issue 24): every command on the demo organization at 100 columns (a
laptop terminal). Each run must exit 0 without a traceback, and each table it prints must fit
the 100 columns with no cell cut by the renderer: no money cut (`200,0…`), no id cut in the
middle. The only `…` a table may hold opens a cell: an id shortened from the front on
purpose (`…/i-0abc123`), its distinguishing end kept. Commands that need inputs the demo
does not have (a native cloud bill, MLflow, a running server) are covered by their own
tests; here each of them at least shows its --help with a worked example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlcost.cli.main import main
from tests.cli.test_robustness import LEAVES

WIDTH = 100
# The policies commands belong to the guardrails' branch (issue 21), which adds their
# examples; every other command shows one.
NO_EXAMPLE = {("policies", "check"), ("policies", "enforce")}
TABLE = re.compile(r"[│┃┏┗┡└━]")
# A character that is not a space nor a border, then the ellipsis: a cell cut at its end
# (rich's truncation) or in the middle. A deliberately shortened id starts its cell with it.
CUT = re.compile(r"[^\s│┃]…")

VARIANTS = "variant,quality,items_per_second,instance,usd_per_hour\n" + "\n".join(
    # Unit costs far below a cent per 1,000 predictions must still read differently.
    f"v{i},{0.70 + i / 50:.2f},{2000 + 700 * i},g5.xlarge,1.006"
    for i in range(6)
)
PAIRS = "text_a,text_b,label\n" + "\n".join(
    f"how do I reset my password {i},how can I reset my password {i},1\n"
    f"how do I reset my password {i},what is the price of plan {i},0"
    for i in range(12)
)


def _runs(folder: Path, tmp: Path) -> dict[tuple[str, ...], list[list[str]]]:
    """Argument lists per command leaf: what a user would run on the demo."""
    (tmp / "variants.csv").write_text(VARIANTS)
    (tmp / "pairs.csv").write_text(PAIRS)
    (tmp / "v8" / "hyperbolic").mkdir(parents=True)
    (tmp / "v8" / "hyperbolic" / "vms.csv").write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,StorageGiB,Price,"
        "Region,GpuInfo,SpotPrice\n1x-H100-75-722,H100,1,75,722,800,1.29,default,,\n"
    )
    telemetry = folder / "telemetry"
    workloads = folder / "workloads"
    return {
        ("budgets", "status"): [[], ["--wide"]],
        ("budgets", "check"): [["--no-send"]],
        ("cache", "calibrate"): [
            [str(tmp / "pairs.csv"), "--embedder", "hashing", "--confidence", "0"]
        ],
        ("catalog", "import"): [["skypilot", str(tmp / "v8")]],
        ("demo", "generate"): [["--out", str(tmp / "gen"), "--days", "1", "--scale", "0.2"]],
        ("export", "focus"): [[str(tmp / "allocated.csv")]],
        ("gpus",): [[], ["--gpu", "H100", "--purchase", "spot"], ["--min-memory", "80"]],
        ("ingest", "auto"): [[str(workloads)]],
        ("ingest", "focus"): [[str(folder / "billing")]],
        ("ingest", "nvidia-smi"): [[str(telemetry / "nvidia-smi")]],
        ("ingest", "opencost"): [[str(workloads / "opencost-eks-serving.json")]],
        ("ingest", "prometheus"): [[str(telemetry / "dcgm")]],
        ("ingest", "slurm"): [[str(workloads / "slurm-sacct.txt")]],
        ("ingest", "tracker"): [[str(workloads / "tracker-runs.jsonl")]],
        ("insights",): [[], ["--plan"], ["--owner", "vision", "--min-saving", "100"]],
        ("plan", "batch"): [
            [
                "--items",
                "1000000",
                "--curve",
                "1:100,2:190,4:330,8:400",
                "--usd-per-worker-hour",
                "1.2",
            ]
        ],
        ("plan", "gpu"): [["--model", "llama-3-8b", "--tokens", "1e9"]],
        ("plan", "memory"): [["--model", "llama-3-8b"], ["--list-models"]],
        ("plan", "pareto"): [[str(tmp / "variants.csv"), "--quality-floor", "0.75"]],
        ("plan", "spot"): [["--instance", "p4d.24xlarge", "--hours", "10"]],
        ("plan", "tco"): [["--gpu-hours", "5000", "--managed-price", "4", "--ondemand-price", "3"]],
        ("policies", "check"): [[]],
        ("policies", "enforce"): [[]],
        ("report", "weekly"): [["--format", "md"]],
        ("run",): [["--spool", str(tmp / "spool"), "--", "true"]],
        ("showback",): [[], ["--month", "2026-05", "--top", "3"], ["--wide"]],
        ("sources",): [[], ["--available"], ["--unmatched"]],
        ("spend",): [
            [],
            ["--by", "owner"],
            ["--by", "ResourceId", "--top", "10"],
            ["--by", "ServiceName,RegionId", "--min", "100"],
        ],
        ("status",): [[]],
        ("tags", "audit"): [[], ["--top", "0"]],
        ("tokens", "list"): [[]],
        ("watch",): [["--once"]],
    }


def _check_tables(text: str, where: str, wide: bool) -> None:
    for line in text.splitlines():
        if not TABLE.search(line):
            continue
        assert wide or len(line) <= WIDTH, f"{where}: a table line of {len(line)} columns:\n{line}"
        cut = CUT.search(line)
        assert cut is None, f"{where}: a cell cut at {cut.group()!r}:\n{line}\n{text}"


@pytest.mark.parametrize("command", LEAVES, ids=" ".join)
def test_every_command_fits_100_columns_without_a_cut_or_a_traceback(
    command: tuple[str, ...],
    in_demo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLCOST_CATALOG_DIR", str(tmp_path / "catalog-home"))
    for argv in [["--help"], *_runs(in_demo, tmp_path).get(command, [])]:
        where = f"mlcost {' '.join(command)} {' '.join(argv)}"
        try:
            code = main([*command, *argv])
        except SystemExit as exc:  # `mlcost run` exits with its command's status
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        assert code == 0, f"{where} exited {code}:\n{out}\n{err}"
        assert "Traceback" not in out + err, f"{where}:\n{err}"
        _check_tables(out, where, wide="--wide" in argv)  # --wide: as wide as it takes
        if argv == ["--help"] and command not in NO_EXAMPLE:
            assert "Example: mlcost " in out, f"{where} has no worked example:\n{out}"


@pytest.mark.parametrize(
    ("argv", "money"),
    [
        (["spend", "--by", "ServiceName"], ["EffectiveCost"]),
        (["spend", "--by", "owner"], ["EffectiveCost"]),
        (["showback"], ["direct", "shared", "gpu_used", "gpu_idle", "unallocated", "total"]),
        (["budgets", "status"], ["amount", "spent", "forecast"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) and v[0][0].islower() else "",
)
def test_every_amount_of_the_json_is_in_the_table_with_2_decimals(
    argv: list[str], money: list[str], in_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same rows as --format json, each amount whole in the 100-column table.
    assert main([*argv, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert main(argv) == 0
    table = capsys.readouterr().out
    cells = {c.strip() for line in table.splitlines() for c in re.split(r"[│┃]", line)}
    for r in rows:
        for m in money:
            if r[m] is not None:
                assert f"{r[m]:,.2f}" in cells, f"{m} {r[m]} is not whole in:\n{table}"


def test_unit_costs_below_a_cent_read_differently(
    in_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1.006 USD/hour at 2,000 to 5,500 predictions a second: 0.00014 to 0.00005 USD per
    # 1,000 predictions. 2 decimals would print 0.00 for every variant.
    (tmp_path / "v.csv").write_text(VARIANTS)
    assert main(["plan", "pareto", str(tmp_path / "v.csv"), "--format", "json"]) == 0
    costs = {
        v["variant"]: v["cost_per_1000"] for v in json.loads(capsys.readouterr().out)["variants"]
    }
    assert main(["plan", "pareto", str(tmp_path / "v.csv")]) == 0
    table = capsys.readouterr().out
    shown = {}
    for line in table.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line.strip("│┃ "))]
        if cells[0] in costs:  # variant, quality, items/s, instance, usd/hour, cost per 1,000
            shown[cells[0]] = cells[5]
    assert set(shown) == set(costs)
    assert "0.00" not in shown.values()
    assert len(set(shown.values())) == len(set(costs.values()))
