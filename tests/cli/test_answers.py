"""Answers on the demo as a user reads them: the month showback defaults to, empty answers
that say why instead of an empty table, --top/--min, one --purchase vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcost.cli.main import main


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_showback_defaults_to_the_latest_month_with_data(
    in_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo's charges start in May 2026 (its 7 days from 2026-05-01).
    assert _json(capsys, "showback") == _json(capsys, "showback", "--month", "2026-05")
    assert main(["showback"]) == 0
    assert "Showback 2026-05 by team (USD)" in capsys.readouterr().out


def test_a_month_without_data_says_so_and_prints_no_balanced_table(
    in_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["showback", "--month", "2026-07"]) == 0
    out, err = capsys.readouterr()
    assert "No cost rows between 2026-07-01 and 2026-08-01; the warehouse holds 2026-05-01" in err
    assert "balanced" not in out and "Showback" not in out
    assert _json(capsys, "showback", "--month", "2026-07") == []


def test_spend_from_after_to_is_a_usage_error(
    in_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the API's 400: an empty window is the user's mistake, not an empty answer.
    assert main(["spend", "--from", "2026-05-10", "--to", "2026-05-01"]) == 2
    err = capsys.readouterr().err
    assert "--from 2026-05-10 is not before --to 2026-05-01" in err and "swap them" in err


def test_spend_by_the_currency_or_an_amount_is_a_clear_error(
    in_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["spend", "--by", "ServiceProviderName,BillingCurrency"]) == 2
    assert "already per BillingCurrency" in capsys.readouterr().err
    assert main(["spend", "--by", "EffectiveCost"]) == 2
    assert "--metric EffectiveCost" in capsys.readouterr().err


def test_top_and_min_keep_the_largest_and_say_what_the_rest_adds_up_to(
    in_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    every = _json(capsys, "spend", "--by", "ResourceId")
    assert isinstance(every, list) and len(every) > 10
    assert main(["spend", "--by", "ResourceId", "--top", "10", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == every[:10]
    rest = sum(r["EffectiveCost"] for r in every[10:])
    assert f"Showing 10 of {len(every)} rows; the other {len(every) - 10} add up to " in err
    assert f"{rest:,.2f} USD" in err
    floor = 1000.0
    kept = _json(capsys, "spend", "--by", "ResourceId", "--min", str(floor))
    assert kept == [r for r in every if r["EffectiveCost"] >= floor]
    owners = _json(capsys, "showback", "--top", "2")
    assert [o["owner"] for o in owners] == ["llm-platform", "vision"]


def test_gpus_takes_purchase_and_the_old_spot_flag_still_works(
    in_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("MLCOST_CATALOG_DIR", str(tmp_path / "catalog-home"))
    spot = _json(capsys, "gpus", "--gpu", "H100", "--purchase", "spot")
    assert main(["gpus", "--gpu", "H100", "--spot", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == spot and "--spot is now --purchase spot" in err
    ondemand = _json(capsys, "gpus", "--gpu", "H100")
    assert _json(capsys, "gpus", "--gpu", "H100", "--purchase", "on-demand") == ondemand
    assert spot != ondemand
    assert main(["gpus", "--spot", "--purchase", "reserved_1y"]) == 2


def test_used_is_a_percentage_in_the_table_and_a_fraction_in_json(
    in_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _json(capsys, "budgets", "status")
    assert isinstance(rows, list)
    assert main(["budgets", "status"]) == 0
    table = capsys.readouterr().out
    for r in rows:
        assert 0 <= r["used"] < 5
        assert f"{r['used']:.1%}" in table


def test_owner_keeps_one_owners_dollars(in_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_owner = _json(capsys, "spend", "--by", "owner")
    assert isinstance(by_owner, list)
    vision = sum(r["EffectiveCost"] for r in by_owner if r["owner"] == "vision")
    services = _json(capsys, "spend", "--by", "ServiceName", "--owner", "vision")
    assert isinstance(services, list) and services
    assert sum(r["EffectiveCost"] for r in services) == pytest.approx(vision, abs=0.01)
    (statement,) = _json(capsys, "showback", "--owner", "vision")  # type: ignore[misc]
    assert statement["owner"] == "vision"
    assert main(["showback", "--owner", "nobody"]) == 0
    assert "no statement for owner 'nobody'" in capsys.readouterr().err.lower()
