"""The owner model read by every view: spend by owner, owner budgets, on the demo organization.

What a user checks: ``mlcost spend --by owner`` adds up to the bill and gives each owner
exactly what showback calls its ``direct`` cost; an owner budget spends that figure (or the
owner's ``total`` with ``basis = "total"``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlcost import open_warehouse
from mlcost.attribution import UNALLOCATED, showback
from mlcost.attribution.model import SHARED, refresh, stale_months
from mlcost.cli.main import cli
from mlcost.demo._config import demo_attribution, demo_budgets

CENT = Decimal("0.01")
MONTH = "2026-05"


def _cli(folder: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.chdir(folder)
    r = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.fixture(scope="module")
def statements(demo_org: Path) -> dict[str, Any]:
    with open_warehouse(f"duckdb://{demo_org / 'warehouse.duckdb'}") as wh:
        sb = showback(wh, demo_attribution(), MONTH)
        bill = wh.table("cost_line_items")
        total = bill.filter(
            ~bill.ChargeCategory.identical_to("Purchase") | bill.CommitmentDiscountId.isnull()
        ).EffectiveCost.sum()
        found: dict[str, Any] = {s.owner: s for s in sb.statements}
        found["bill"] = Decimal(total.execute())
    return found


def test_spend_by_owner_sums_to_the_bill_and_each_owner_is_showbacks_direct(
    demo_org: Path, statements: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _cli(demo_org, monkeypatch, "spend", "--by", "owner")
    by_owner = {r["owner"]: Decimal(str(r["EffectiveCost"])) for r in rows}
    assert {r["BillingCurrency"] for r in rows} == {"USD"}
    assert abs(sum(by_owner.values()) - statements["bill"]) < CENT
    owners = {o for o in statements if o not in ("bill", UNALLOCATED)}
    assert set(by_owner) == owners | {SHARED, UNALLOCATED}
    for owner in owners:
        assert abs(by_owner[owner] - statements[owner].direct) < CENT, owner
    # Shared: what the rules spread; unallocated: no owner, or GPU capacity nobody claimed.
    spread = sum((s.shared for o, s in statements.items() if o != "bill"), Decimal(0))
    assert abs(by_owner[SHARED] - spread) < CENT
    unclaimed = sum(
        (s.gpu_unallocated for o, s in statements.items() if o not in ("bill", UNALLOCATED)),
        Decimal(0),
    )
    assert abs(by_owner[UNALLOCATED] - statements[UNALLOCATED].total - unclaimed) < CENT


def test_spend_by_a_normalized_key_and_by_the_raw_tag(
    demo_org: Path, statements: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _cli(demo_org, monkeypatch, "spend", "--by", "tag:team")
    spellings = {r["tag:team"] for r in raw}
    assert {"vision", "cv-vision"} <= spellings  # the bill as it is
    projects = _cli(demo_org, monkeypatch, "spend", "--by", "project")
    total = sum(Decimal(str(r["EffectiveCost"])) for r in projects)
    assert abs(total - statements["bill"]) < CENT
    names = {r["project"] for r in projects} - {None}
    assert names and all(n == n.casefold() for n in names)


def test_owner_budgets_spend_showbacks_direct_or_total(
    demo_org: Path, statements: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    budgets, _ = demo_budgets(demo_org)
    assert all(set(b.scope) == {"owner"} for b in budgets)
    rows = {r["budget"]: r for r in _cli(demo_org, monkeypatch, "budgets", "status")}
    assert set(rows) == {b.name for b in budgets}
    for b in budgets:
        (owner,) = b.scope["owner"]
        want = getattr(statements[owner], b.basis)
        assert abs(Decimal(str(rows[b.name]["spent"])) - want) < CENT, b.name
    assert {b.basis for b in budgets} == {"direct", "total"}


def test_a_vision_owner_budget_counts_every_spelling_of_vision(
    demo_org: Path, statements: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = (demo_org / "mlcost.toml").read_text()
    head = config[: config.index("[budgets.")]
    (tmp_path / "mlcost.toml").write_text(
        head.replace('warehouse = "warehouse.duckdb"', f'warehouse = "{demo_org}/warehouse.duckdb"')
        + '[budgets.v]\nscope = { owner = "vision" }\namount = 1000\ncurrency = "USD"\n'
        + '[budgets.raw]\nscope = { team = "vision" }\namount = 1000\ncurrency = "USD"\n'
    )
    rows = {r["budget"]: r for r in _cli(tmp_path, monkeypatch, "budgets", "status")}
    direct = statements["vision"].direct
    assert abs(Decimal(str(rows["v"]["spent"])) - direct) < CENT
    # The raw tag misses the other spellings and what vision's workloads ran on.
    assert Decimal(str(rows["raw"]["spent"])) < direct - 1


def test_the_model_is_rebuilt_after_a_load_not_per_command(demo_org: Path) -> None:
    config = demo_attribution()
    url = f"duckdb://{demo_org / 'warehouse.duckdb'}"
    with open_warehouse(url) as wh:
        refresh(wh, config)
        assert stale_months(wh, config) == []
        built = wh.table("allocated_costs").x_BuiltAt.max().execute()
        assert refresh(wh, config) == []  # nothing new: nothing rebuilt
        assert wh.table("allocated_costs").x_BuiltAt.max().execute() == built
        with wh.transaction():
            wh.record_ingest(
                ingest_id=wh.next_ingest_id(),
                source="focus",
                paths=[],
                content_hash="x",
                row_count=0,
                rows_replaced=0,
            )
        assert stale_months(wh, config) == [MONTH]
    with open_warehouse(url, read_only=True) as ro:
        from mlcost.attribution.model import StaleOwnerModel, owner_rows

        with pytest.raises(StaleOwnerModel, match="mlcost showback --month 2026-05"):
            owner_rows(ro, config)
