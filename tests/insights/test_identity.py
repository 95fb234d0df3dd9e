"""On the demo organization (issue 20): three runs and a restated export of the same period (a
new file with the same rows) leave the set of finding ids unchanged; the plan counts each
resource-hour once and keeps one-off waste apart."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from mlcost import Warehouse, ingest_focus, open_warehouse
from mlcost.demo import generate_demo
from mlcost.demo._config import demo_attribution
from mlcost.insights import build_plan, insights_run, load_findings, save_findings
from mlcost.sources import ingest_auto


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Warehouse]]:
    folder = tmp_path_factory.mktemp("demo20")
    generate_demo(folder, days=30, scale=1.0)
    with open_warehouse(f"duckdb://{folder / 'w.duckdb'}") as wh:
        ingest_focus(wh, sorted((folder / "billing").glob("*.csv")))
        ingest_auto(wh, [folder / "telemetry", folder / "workloads"])
        yield folder, wh


def test_the_plan_counts_each_resource_hour_once(demo: tuple[Path, Warehouse]) -> None:
    _, wh = demo
    run = insights_run(wh, demo_attribution())
    assert run.context is not None
    plan = build_plan(run.context, run.findings)
    body = plan.as_dict()
    assert body["currency"] == "USD" and body["actions"]
    assert set(body["actions"][0]) >= {
        "action",
        "resource_id",
        "resource_ids",
        "owner",
        "monthly_saving",
        "finding_ids",
    }
    # The one-off money is not in the monthly total: the total is the actions' sum, and the
    # one-off waste is the runaway, early-stop and anomaly findings' money.
    monthly = sum(Decimal(str(a["monthly_saving"]["expected"])) for a in body["actions"])
    assert abs(Decimal(str(body["recurring_monthly_saving"])) - monthly) < Decimal("0.01")
    once = sum(f.monthly_saving.expected for f in run.findings if not f.recurring)
    assert once > 0 and abs(Decimal(str(body["one_off_waste"])) - once) < Decimal("0.01")
    planned = {i for a in body["actions"] for i in a["finding_ids"]}
    assert not planned & {f.id for f in run.findings if not f.recurring}
    # Per resource: what the plan saves on it is at most its cost scaled to a month.
    ctx = run.context
    cost = {
        rid: ctx.monthly(sum((r.cost for r in rows), Decimal(0)))
        for rid, rows in ctx.gpu_hours.items()
    }
    per: dict[str, Decimal] = {}
    for a in body["actions"]:
        if a["action"] in ("stop", "terminate", "rightsize", "spot"):
            rids = [r for r in a["resource_ids"] if r in cost]
            for r in rids:
                share = Decimal(str(a["monthly_saving"]["expected"])) / len(rids)
                per[r] = per.get(r, Decimal(0)) + share
    assert per and all(v <= cost[r] + Decimal("0.05") for r, v in per.items())
    # The whole plan saves at most the bill's usage scaled to a month.
    t = ctx.lines()
    t = t.filter(t.ChargeFrequency == "Usage-Based")
    bill = Decimal(str(t.EffectiveCost.sum().execute()))
    assert plan.recurring_monthly_saving <= ctx.monthly(bill)
    # No resource is both stopped/terminated and committed.
    stopped = {
        r
        for a in body["actions"]
        if a["action"] in ("stop", "terminate")
        for r in a["resource_ids"]
    }
    committed = {r for a in body["actions"] if a["action"] == "commit" for r in a["resource_ids"]}
    assert stopped and not stopped & committed
    # Everything recurring is either in an action or dropped with a reason.
    dropped = {d["finding_id"] for d in body["dropped"]}
    assert {f.id for f in run.findings if f.recurring} == planned | dropped
    assert all(d["reason"] for d in body["dropped"])


def test_reruns_and_a_restated_export_keep_the_ids(demo: tuple[Path, Warehouse]) -> None:
    folder, wh = demo
    config = demo_attribution()
    runs = [insights_run(wh, config) for _ in range(3)]
    ids = [{f.id for f in r.findings} for r in runs]
    kinds = {f.kind for f in runs[0].findings}
    assert {"anomaly", "idle_gpu", "runaway"} <= kinds  # the planted waste is found
    assert ids[0] == ids[1] == ids[2]
    assert len(ids[0]) == len(runs[0].findings)  # no two findings share an id
    for r in runs:
        save_findings(wh, r.findings, ran=r.ran)
    # The provider restates the same period: a new file (rows in another order), same rows.
    restated = folder / "restated"
    restated.mkdir()
    copies = []
    for b in sorted((folder / "billing").glob("*.csv")):
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
