"""Which tag key carries ownership in a bill new to mlcost (``mlcost tags audit``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlcost import Warehouse, open_warehouse
from mlcost.attribution.tags import key_family, means_ownership, owner_keys, suggest_config
from mlcost.cli.main import cli
from mlcost.config import parse_attribution
from tests.attribution.conftest import line, put
from tests.conftest import FOCUS_SAMPLES

OFFICIAL = FOCUS_SAMPLES / "official-focus-1.0" / "focus_sample_1000.csv"


@pytest.mark.parametrize(
    ("raw", "family", "ownership"),
    [
        ("Team", "team", True),
        ("team_name", "team", True),
        ("user:Team", "team", True),
        ("business_unit", "business_unit", True),
        ("CostCenter", "costcenter", True),
        ("cost-center", "cost_center", True),
        ("ms:Department", "department", True),
        ("environment", "environment", False),
        ("application", "application", False),
    ],
)
def test_key_families_and_ownership_names(raw: str, family: str, ownership: bool) -> None:
    assert key_family(raw) == family
    assert means_ownership(key_family(raw)) is ownership


def _bill(wh: Warehouse, tags: list[dict[str, str]], costs: list[float]) -> None:
    put(wh, "cost_line_items", [line(c, tags=t) for t, c in zip(tags, costs, strict=True)])


def test_coverage_is_absolute_cost_and_ownership_wins_a_tie(wh: Warehouse) -> None:
    # environment and team are on the same rows: a tie, team wins. A credit counts as much as
    # a charge: owner is on a -50 credit and a 10 charge, more coverage than app's 40.
    _bill(
        wh,
        [
            {"environment": "prod", "team": "search"},
            {"environment": "dev", "Team": "vision"},
            {"owner": "ann", "app": "x"},
            {"owner": "bob"},
            {"app": "y"},
        ],
        [30, 30, 10, -50, 30],
    )
    found = owner_keys(wh)
    assert [k.key for k in found[:2]] == ["owner", "team"]
    assert found[0].share == pytest.approx(60 / 150)
    assert found[1].spellings == ("Team", "team") and found[1].share == pytest.approx(0.4)
    assert found[2].key == "environment" and found[2].share == found[1].share
    assert [k.key for k in found] == ["owner", "team", "environment", "app"]


def test_official_focus_sample_names_business_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    r = CliRunner().invoke(cli, ["--warehouse", url, "ingest", "focus", str(OFFICIAL)])
    assert r.exit_code == 0, r.output
    assert "Ownership key: business_unit" in r.output  # said on the first load
    again = CliRunner().invoke(cli, ["--warehouse", url, "ingest", "focus", str(OFFICIAL)])
    assert again.exit_code == 0 and "Ownership key" not in again.output
    with open_warehouse(url) as wh:
        found = owner_keys(wh)
        total = wh.table("cost_line_items").EffectiveCost.abs().sum().execute()
        carried = (
            wh.table("cost_line_items")
            .filter(lambda t: t.Tags.get("business_unit").notnull())
            .EffectiveCost.abs()
            .sum()
            .execute()
        )
    # business_unit, application and environment are on the same rows: a three-way tie.
    assert [k.key for k in found[:3]] == ["business_unit", "application", "environment"]
    assert (
        found[0].share == found[1].share == found[2].share == pytest.approx(float(carried / total))
    )
    r = CliRunner().invoke(cli, ["--warehouse", url, "tags", "audit"])
    assert r.exit_code == 0, r.output
    share = f"{float(carried / total):.1%}"
    assert f"Ownership key: business_unit (business_unit) on {share}" in r.output
    assert f"({carried:,.2f} USD); tied with application, environment (keys that" in r.output

    r = CliRunner().invoke(cli, ["--warehouse", url, "tags", "audit", "--suggest-config"])
    assert r.exit_code == 0, r.output
    config = parse_attribution(tomllib.loads(r.output)["attribution"], where="suggested")
    assert config.owner == "business_unit" and "env" in config.required
    assert "PeoriaData" in config.allowed["business_unit"]
    # Pasted, the audit agrees with the configuration.
    assert (
        "[attribution] owner is 'team'"
        in CliRunner().invoke(cli, ["--warehouse", url, "tags", "audit"]).output
    )
    (tmp_path / "mlcost.toml").write_text(r.output)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["--warehouse", url, "tags", "audit"])
    assert r.exit_code == 0, r.output
    assert "Ownership key: business_unit" in r.output and "[attribution] owner is" not in r.output


def test_a_bill_without_tags_suggests_nothing(wh: Warehouse) -> None:
    _bill(wh, [{}], [5])
    assert owner_keys(wh) == ()
    assert suggest_config(()).startswith("# No tags")
