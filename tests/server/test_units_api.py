"""/api/v1/units and /api/v1/plan/tco: the same numbers as the library and the CLI."""

from __future__ import annotations

from decimal import Decimal

from mlcost import open_warehouse
from mlcost.attribution.unit_costs import unit_costs
from mlcost.plan import TcoRequest
from tests.server.conftest import Demo
from tests.server.test_api import get


def test_units_by_experiment_equal_the_library(base_url: str, demo: Demo) -> None:
    r = get(base_url, "/api/v1/units?by=experiment", demo.tokens["all"])
    assert r.status_code == 200, r.text
    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        want = unit_costs(wh, "experiment").as_dict()
    assert r.json()["rows"] == want["rows"] and want["rows"]
    first = r.json()["rows"][0]["usd_per_experiment"]
    assert first["numerator"]["currency"] == "USD" and first["denominator"] == 1


def test_units_need_read_all(base_url: str, demo: Demo) -> None:
    r = get(base_url, "/api/v1/units", demo.tokens["search"])
    assert r.status_code == 403


def test_units_ask_for_both_api_prices(base_url: str, demo: Demo) -> None:
    r = get(base_url, "/api/v1/units?api_input_price=0.5", demo.tokens["all"])
    assert r.status_code == 400 and "api_output_price" in r.text


def test_plan_tco_takes_hidden_costs(base_url: str, demo: Demo) -> None:
    q = (
        "gpu_hours=35040&managed_price=6&ondemand_price=4&reserved_price=2.6&gpus=8"
        "&managed_egress=1000&managed_storage=250&overhead_pct=20"
    )
    r = get(base_url, f"/api/v1/plan/tco?{q}", demo.tokens["search"])
    assert r.status_code == 200, r.text
    body = r.json()
    want = TcoRequest(
        gpu_hours_per_year=35040,
        managed_usd_per_hour=6,
        ondemand_usd_per_hour=4,
        reserved_usd_per_hour=2.6,
        capacity_gpus=8,
        managed_egress_usd_per_month=1000,
        managed_storage_usd_per_month=250,
        overhead_pct=20,
    ).run()
    managed = next(o for o in body["options"] if o["name"] == "managed")
    assert Decimal(managed["overhead"]["amount"]) == Decimal("15000.00")
    assert managed["total"]["currency"] == "USD"
    assert body["break_even_utilization"] == want.break_even_utilization
    assert body["cheapest"] == want.cheapest


def test_overview_has_the_serving_tiles_for_read_all_only(base_url: str, demo: Demo) -> None:
    import httpx

    page = httpx.get(f"{base_url}/", cookies={"mlcost_token": demo.tokens["all"]}, timeout=60)
    assert page.status_code == 200, page.text
    assert "cost per 1M tokens and cache savings" in page.text
    # The demo loads vLLM counters for atlas-7b-chat (a tile with its price per 1M tokens) but
    # no cache reports (the cache tile says how to get them).
    assert "atlas-7b-chat (self-hosted, idle included)" in page.text
    assert "per 1M input / output tokens" in page.text and "no tokens" not in page.text
    assert "mlcost ingest tracker" in page.text
    team = httpx.get(f"{base_url}/", cookies={"mlcost_token": demo.tokens["search"]}, timeout=60)
    assert team.status_code == 200 and "cache savings" not in team.text
