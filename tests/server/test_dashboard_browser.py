"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright), against
the real server on a loopback port over the demo warehouse. Every request that is not to
127.0.0.1 is aborted, so the pages prove they work offline.

``MLCOST_SCREENSHOT=docs/dashboard-overview.png pytest tests/server/test_dashboard_browser.py``
also saves the overview as seen by an admin (the PNG in docs/ is made this way).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from mlcost.config import Settings

pytestmark = pytest.mark.slow

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
uvicorn = pytest.importorskip("uvicorn", reason="pip install 'mlcost[server]'")


def chromium_path() -> str | None:
    """Debian's chromium (``make tools``); Playwright never downloads a browser here."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class DashboardServer:
    url: str
    tokens: dict[str, str]
    month_total: str
    charted_total: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo organization (40 days from 2026-05-01: May and part of June), ingested,
    allocated month by month and its insights stored, as `mlcost demo` leaves it."""
    from mlcost import ingest_focus, open_warehouse
    from mlcost.attribution import showback
    from mlcost.demo import generate_demo
    from mlcost.demo._config import demo_attribution, demo_budgets
    from mlcost.insights import run_insights, save_findings
    from mlcost.sources import ingest_auto

    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, days=40, scale=0.5)
    url = f"duckdb://{out / 'warehouse.duckdb'}"
    config = demo_attribution()
    with open_warehouse(url) as wh:
        ingest_focus(wh, sorted((out / "billing").glob("*.csv")))
        ingest_auto(wh, [out / "telemetry", out / "workloads"])
        for month in ("2026-05", "2026-06"):
            showback(wh, config, month)
        save_findings(wh, run_insights(wh, config))
    budgets, _ = demo_budgets(out)
    return Settings(warehouse=url, sources={}, attribution=config, budgets=budgets)


@pytest.fixture(scope="module")
def server(demo_settings: Settings) -> Iterator[DashboardServer]:
    from mlcost import open_warehouse
    from mlcost.attribution import statements
    from mlcost.server.app import create_app
    from mlcost.server.auth import create_token

    with open_warehouse(demo_settings.warehouse) as wh:
        tokens = {
            name: create_token(wh, [scope], name=name)[1]
            for name, scope in [("admin", "admin"), ("vision", "read:team:vision")]
        }
        # 40 days from 2026-05-01: the latest day is 2026-06-09, so "month to date" is
        # June 1-9 and the chart runs from the first charge (May 1) through June 9.
        june = statements(wh, datetime(2026, 6, 1), datetime(2026, 6, 10))
        charted = statements(wh, datetime(2026, 5, 1), datetime(2026, 6, 10))
    month_total = sum((s.total for s in june), Decimal(0))
    app = create_app(demo_settings)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield DashboardServer(
        url=f"http://127.0.0.1:{port}",
        tokens=tokens,
        month_total=f"{month_total:,.2f} USD",
        charted_total=float(sum((s.total for s in charted), Decimal(0))),
    )
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium on PATH (make tools installs Debian's chromium when run as root)")
    with playwright.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield b
        b.close()


class Offline:
    """Aborts and records every request that does not go to the test server."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.blocked: list[str] = []

    def __call__(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


@pytest.fixture
def open_page(browser: Any, server: DashboardServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) whose page may only reach the test server."""
    contexts = []

    def make(token: str | None = None) -> Any:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        offline = Offline(server.url)
        ctx.route("**/*", offline)
        page = ctx.new_page()
        page.offline = offline
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        if token is not None:
            login(page, server, token)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def login(page: Any, server: DashboardServer, token: str) -> None:
    page.goto(server.url + "/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def chart_points(page: Any, canvas: str) -> dict[str, float]:
    """Each dataset of the Chart.js chart on ``canvas``: label -> sum of its drawn values."""
    return page.evaluate(
        """(sel) => {
            const chart = Chart.getChart(document.querySelector(sel));
            if (!chart) return null;
            const out = {};
            for (const d of chart.data.datasets) out[d.label] = d.data.reduce((a, b) => a + b, 0);
            return out;
        }""",
        canvas,
    )


def test_overview_draws_spend_by_team_from_the_showback(
    open_page: Any, server: DashboardServer
) -> None:
    page = open_page(server.tokens["admin"])
    assert page.url == server.url + "/"
    assert page.title().startswith("Overview")
    drawn = chart_points(page, "#spend-chart")
    # One stacked series per showback owner, each with drawn spend.
    assert drawn is not None and set(drawn) >= {"llm-platform", "vision", "search"}
    assert all(v > 0 for k, v in drawn.items() if k != "(unallocated)")
    # The canvas has pixels on it, not just a chart object: some are not background.
    painted = page.evaluate(
        """() => {
            const c = document.querySelector('#spend-chart');
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
            return n;
        }"""
    )
    assert painted > 1000
    # The month's total in the card equals the showback statements' sum.
    assert page.inner_text("#total-this") == server.month_total
    # The daily series of the chart add up to the statements of the charted months.
    assert abs(sum(drawn.values()) - server.charted_total) < 1.0
    assert page.locator("table.budgets tbody tr").count() == 4
    assert page.locator("table.findings tbody tr").count() == 5
    assert page.errors == []
    if os.environ.get("MLCOST_SCREENSHOT"):
        page.screenshot(path=os.environ["MLCOST_SCREENSHOT"], full_page=True)


def test_every_page_renders_offline(open_page: Any, server: DashboardServer) -> None:
    page = open_page(server.tokens["admin"])
    for path, canvas in [
        ("/gpus", "#gpu-team-chart"),
        ("/teams/vision", "#team-chart"),
        ("/insights", None),
        ("/budgets", None),
        ("/planner?tool=memory&model=llama-3-8b&mode=lora", None),
    ]:
        response = page.goto(server.url + path)
        assert response.status == 200, path
        if canvas:
            drawn = chart_points(page, canvas)
            assert drawn and sum(drawn.values()) > 0, path
    assert page.locator("#memory-result table.fits tbody tr").count() > 0
    assert page.errors == []
    # Only the test server was asked for anything; nothing was blocked because nothing
    # needed another origin.
    assert page.offline.blocked == []


def test_navigation_to_a_team_and_a_model_by_clicking(
    open_page: Any, server: DashboardServer
) -> None:
    page = open_page(server.tokens["admin"])
    page.click("table.teams >> text=vision")
    page.wait_for_load_state()
    assert page.url == server.url + "/teams/vision"
    assert page.inner_text("h1").startswith("Team vision")
    assert chart_points(page, "#team-chart")
    page.click("table.models a >> nth=0")
    page.wait_for_load_state()
    assert "/models/" in page.url
    assert chart_points(page, "#model-chart")


def test_a_team_token_sees_its_team_and_only_totals_of_the_others(
    open_page: Any, server: DashboardServer
) -> None:
    page = open_page(server.tokens["vision"])
    drawn = chart_points(page, "#spend-chart")
    assert set(drawn) == {"vision", "other teams"}
    rows = page.locator("table.teams tbody tr td:first-child").all_inner_texts()
    assert rows == ["vision", "other teams"]
    # Every finding and budget on the page is the team's own.
    assert set(page.locator("table.budgets tbody td:first-child").all_inner_texts()) == {"vision"}
    response = page.goto(server.url + "/teams/search")
    assert response.status == 403
    assert "may not see team 'search'" in page.inner_text("[role=alert]")
    # Nor through the API with the same login (the cookie): only its own rows and totals.
    api = server.url + "/api/v1"
    sb = page.request.get(api + "/showback?month=2026-06").json()
    assert [s["owner"] for s in sb["statements"]] == ["vision"]
    assert float(sb["other_owners_total"]["amount"]) > 0
    spend = page.request.get(api + "/spend?by=team").json()
    teams = {r["keys"]["team"] for r in spend["rows"] if not r["other_teams"]}
    assert teams == {"vision"}
    owners = {f["owner"] for f in page.request.get(api + "/insights").json()}
    assert owners == {"vision"}
    assert page.request.get(api + "/showback?month=2026-06&by=project").status == 403
    assert page.goto(server.url + "/teams/vision").status == 200


def test_login_refuses_a_wrong_token_and_logout_forgets_the_cookie(
    open_page: Any, server: DashboardServer
) -> None:
    page = open_page()
    assert page.goto(server.url + "/teams/vision").url.endswith("/login?next=/teams/vision")
    page.fill("#token", "mlc_not-a-real-token")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("[role=alert]")
    assert page.context.cookies() == []
    assert page.goto(server.url + "/").url.startswith(server.url + "/login")

    login(page, server, server.tokens["admin"])
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "mlcost_token"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # not readable by scripts
    page.click("text=Log out")
    page.wait_for_load_state()
    assert page.context.cookies() == []
    assert page.goto(server.url + "/").url.startswith(server.url + "/login")
