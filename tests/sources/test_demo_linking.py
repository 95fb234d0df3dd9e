"""On the demo organization: everything ingests with `mlcost ingest auto`, and every generated
GPU resource is matched to its telemetry and workloads (`mlcost sources --unmatched`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.cli.main import cli as main
from mlcost.demo import generate_demo
from mlcost.sources.linking import billed_gpu_resources, link_summary, unmatched


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, days=2, scale=0.3)
    return out


def test_demo_ingests_and_links(demo: Path, tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    runner = CliRunner()
    first = runner.invoke(main, ["--warehouse", url, "ingest", "auto", str(demo)])
    assert first.exit_code == 0, first.output
    sources = ("focus", "openai", "nvidia-smi", "prometheus", "tracker", "slurm", "opencost")
    for source in (*sources, "serving-metrics"):
        assert f"{source}: ingest" in first.output
    again = runner.invoke(main, ["--warehouse", url, "ingest", "auto", str(demo)])
    assert again.exit_code == 0 and ": ingest " not in again.output  # nothing new loaded
    report = runner.invoke(main, ["--warehouse", url, "sources", "--unmatched", "--format", "json"])
    assert report.exit_code == 0 and json.loads(report.output) == []

    with open_warehouse(url, read_only=True) as wh:
        assert unmatched(wh) == []
        assert all(s["unmatched_rows"] == 0 for s in link_summary(wh))
        links = wh.table("resource_links").to_pyarrow().to_pylist()
        linked = {r["billed_resource_id"] for r in links}
        samples = wh.table("gpu_samples")
        sampled = set(samples.resource_id.to_pyarrow().to_pylist())
    # Every billed GPU resource of the demo has telemetry resolving to it.
    by_name = {r["name"]: r["billed_resource_id"] for r in links}
    with open_warehouse(url, read_only=True) as wh:
        gpu = billed_gpu_resources(wh)
    assert gpu and set(gpu) <= {by_name[n] for n in sampled}
    # Every tracker, Slurm and OpenCost workload resolved too (checked by unmatched == []).
    assert linked


def test_the_linking_expressions_give_the_views_rows(demo: Path, tmp_path: Path) -> None:
    """Engines without the SQL views (Spark) read these Ibis expressions instead."""
    from mlcost.warehouse._links import BUILDERS

    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    assert (
        CliRunner().invoke(main, ["--warehouse", url, "ingest", "auto", str(demo)]).exit_code == 0
    )
    with open_warehouse(url, read_only=True) as wh:
        for name, build in BUILDERS.items():
            view = wh.table(name).to_pyarrow().to_pylist()
            expr = build(wh.table).to_pyarrow().to_pylist()
            assert len(view) > 10, name
            assert sorted(map(_row, expr)) == sorted(map(_row, view)), name


def _row(r: dict[str, object]) -> tuple[str, ...]:
    return tuple(f"{k}={v}" for k, v in sorted(r.items()))


def test_unmatched_counts_what_does_not_resolve(demo: Path, tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    stray = tmp_path / "i-0notbilled.csv"
    stray.write_text(
        "timestamp, index, utilization.gpu [%]\n2026/05/01 00:00:00.000, 0, 5 %\n"
        "2026/05/01 00:01:00.000, 0, 7 %\n"
    )
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["--warehouse", url, "ingest", "focus", str(demo / "billing")]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(main, ["--warehouse", url, "ingest", "nvidia-smi", str(stray)]).exit_code == 0
    )
    with open_warehouse(url, read_only=True) as wh:
        assert unmatched(wh) == [{"table": "gpu_samples", "name": "i-0notbilled", "rows": 2}]
    report = runner.invoke(main, ["--warehouse", url, "sources", "--unmatched"])
    assert "0 of 1 names matched" in report.output and "i-0notbilled" in report.output
