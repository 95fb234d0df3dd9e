"""Stable identities on the demo organization (issue 20): three runs and a restated export of
the same period (a new file with the same rows) leave the set of finding ids unchanged, and
nothing stored is closed by them."""

from __future__ import annotations

from pathlib import Path

from mlcost import ingest_focus, open_warehouse
from mlcost.demo import generate_demo
from mlcost.demo._config import demo_attribution
from mlcost.insights import insights_run, load_findings, save_findings
from mlcost.sources import ingest_auto


def test_reruns_and_a_restated_export_keep_the_ids(tmp_path: Path) -> None:
    generate_demo(tmp_path, days=30, scale=1.0)
    bills = sorted((tmp_path / "billing").glob("*.csv"))
    config = demo_attribution()
    with open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}") as wh:
        ingest_focus(wh, bills)
        ingest_auto(wh, [tmp_path / "telemetry", tmp_path / "workloads"])
        runs = [insights_run(wh, config) for _ in range(3)]
        ids = [{f.id for f in r.findings} for r in runs]
        kinds = {f.kind for f in runs[0].findings}
        assert {"anomaly", "idle_gpu", "runaway"} <= kinds  # the planted waste is found
        assert ids[0] == ids[1] == ids[2]
        assert len(ids[0]) == len(runs[0].findings)  # no two findings share an id
        for r in runs:
            save_findings(wh, r.findings, ran=r.ran)
        # The provider restates the same period: a new file (rows in another order), same rows.
        restated = tmp_path / "restated"
        restated.mkdir()
        copies = []
        for b in bills:
            head, *rows = b.read_text(encoding="utf-8").splitlines(keepends=True)
            copy = restated / f"{b.stem}-restated{b.suffix}"
            copy.write_text(head + "".join(reversed(rows)), encoding="utf-8")
            copies.append(copy)
        ingest_focus(wh, copies)
        again = insights_run(wh, config)
        assert {f.id for f in again.findings} == ids[0]
        save_findings(wh, again.findings, ran=again.ran)
        assert {f.id for f in load_findings(wh)} == ids[0]  # none closed, none added
        assert wh.table("recommendations").count().execute() == len(ids[0])
