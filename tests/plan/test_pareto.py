"""Cost-quality frontier on small hand-checked cases, and ``mlcost plan pareto``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcost.catalog import hourly_price
from mlcost.cli.main import main
from mlcost.errors import BadValue, InvalidInput, MissingColumn
from mlcost.plan.pareto import Variant, pareto, read_variants

# At 3.60 USD/h, 1 item/s costs 1.00 USD per 1,000 predictions: easy to check by hand.
CSV = """variant,quality,items_per_second,instance,usd_per_hour
full,0.92,10,x,3.60
int8,0.91,25,x,3.60
int4,0.86,40,x,3.60
distilled,0.85,30,x,3.60
small,0.70,100,x,3.60
"""


def test_hand_checked_frontier_and_floor() -> None:
    vs = [
        Variant("full", 0.92, 10, "x", usd_per_hour=3.6),  # 0.100 per 1,000
        Variant("int8", 0.91, 25, "x", usd_per_hour=3.6),  # 0.040
        Variant("int4", 0.86, 40, "x", usd_per_hour=3.6),  # 0.025
        Variant("distilled", 0.85, 30, "x", usd_per_hour=3.6),  # 0.0333: int4 beats it on both
        Variant("small", 0.70, 100, "x", usd_per_hour=3.6),  # 0.010
    ]
    r = pareto(vs, quality_floor=0.9)
    costs = {v.variant: v.cost_per_1000 for v in r.variants}
    assert costs == pytest.approx(
        {"full": 0.1, "int8": 0.04, "int4": 0.025, "distilled": 1 / 30, "small": 0.01}, abs=1e-6
    )
    assert r.frontier == ("small", "int4", "int8", "full")
    assert r.cheapest_meeting_floor == "int8"
    assert pareto(vs, quality_floor=0.99).cheapest_meeting_floor is None
    assert pareto(vs).cheapest_meeting_floor is None


def test_ties_are_not_dominated_but_strictly_worse_is() -> None:
    same = [Variant("a", 0.9, 10, "x", usd_per_hour=1), Variant("b", 0.9, 10, "x", usd_per_hour=1)]
    assert set(pareto(same).frontier) == {"a", "b"}
    worse = [Variant("a", 0.9, 10, "x", usd_per_hour=1), Variant("b", 0.9, 10, "x", usd_per_hour=2)]
    assert pareto(worse).frontier == ("a",)


def test_price_from_the_catalog_when_not_given() -> None:
    (v,) = pareto([Variant("full", 0.9, 100, "g5.xlarge", region="us-east-1")]).variants
    price = hourly_price("g5.xlarge", region="us-east-1")
    assert v.usd_per_hour == price
    assert v.cost_per_1000 == pytest.approx(price / 360, rel=1e-6)


def test_bad_inputs_say_where(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="repeat"):
        pareto([Variant("a", 1, 1, "x", usd_per_hour=1)] * 2)
    with pytest.raises(InvalidInput, match="positive"):
        pareto([Variant("a", 1, 0, "x", usd_per_hour=1)])
    path = tmp_path / "v.csv"
    path.write_text("variant,quality,instance\na,1,x\n")
    with pytest.raises(MissingColumn, match="items_per_second"):
        read_variants(path)
    path.write_text("variant,quality,items_per_second,instance\na,good,1,x\n")
    with pytest.raises(BadValue, match=r"row 1.*quality"):
        read_variants(path)


def test_cli_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "variants.csv"
    path.write_text(CSV)
    png = tmp_path / "frontier.png"
    args = ["plan", "pareto", str(path), "--quality-floor", "0.9", "--plot", str(png)]
    assert main([*args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frontier"] == ["small", "int4", "int8", "full"]
    assert out["cheapest_meeting_floor"] == "int8"
    assert {v["variant"]: v["cost_per_1000"] for v in out["variants"]}["int8"] == 0.04
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(args) == 0
    assert "Cheapest meeting quality 0.9: int8" in capsys.readouterr().out
