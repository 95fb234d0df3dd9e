"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright), against
the real server on a loopback port over the demo warehouse. Every request that is not to
127.0.0.1 is aborted, so the pages prove they work offline.

``MLCOST_SCREENSHOT=docs/dashboard-overview.png pytest tests/server/test_dashboard_browser.py``
also saves the overview as seen by an admin (the PNG in docs/ is made this way).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.server.conftest import Demo

pytestmark = pytest.mark.slow

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


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
    month: str  # the month on the overview
    month_total: str  # its total to date, as the page prints it
    charted_total: float  # every statement of the charted days


@pytest.fixture(scope="module")
def server(demo: Demo, base_url: str) -> DashboardServer:
    """The API tests' server and demo (tests/server/conftest.py): `mlcost demo` for 10 days
    of May 2026, its first month allocated, a token per scope."""
    from mlcost import open_warehouse
    from mlcost.attribution import statements

    with open_warehouse(demo.settings.warehouse, read_only=True) as wh:
        latest = wh.table("allocated_costs").ChargePeriodStart.max().execute()
        start = datetime(latest.year, latest.month, 1)
        end = datetime(latest.year, latest.month, latest.day) + timedelta(days=1)
        month = statements(wh, start, end)
    total = sum((s.total for s in month), Decimal(0))
    return DashboardServer(
        url=base_url,
        tokens=demo.tokens,
        month=f"{start:%Y-%m}",
        month_total=f"{total:,.2f} USD",
        charted_total=float(total),  # the demo starts on the 1st: the chart is this month
    )


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
    sb = page.request.get(api + f"/showback?month={server.month}").json()
    assert [s["owner"] for s in sb["statements"]] == ["vision"]
    assert float(sb["other_owners_total"]["amount"]) > 0
    spend = page.request.get(api + "/spend?by=team").json()
    teams = {r["keys"]["team"] for r in spend["rows"] if not r["other_teams"]}
    assert teams == {"vision"}
    owners = {f["owner"] for f in page.request.get(api + "/insights").json()}
    assert owners == {"vision"}
    assert page.request.get(api + f"/showback?month={server.month}&by=project").status == 403
    assert page.goto(server.url + "/teams/vision").status == 200


def test_login_refuses_a_wrong_token_and_logout_forgets_the_cookie(
    open_page: Any, server: DashboardServer
) -> None:
    page = open_page()
    assert page.goto(server.url + "/teams/vision").url.endswith("/login?next=/teams/vision")
    page.fill("#token", "mlc_not-a-real-token")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("[role=alert]")
    # No token cookie; only the login form's CSRF nonce (for /login, SameSite=Strict).
    (csrf,) = page.context.cookies()
    assert csrf["name"] == "mlcost_csrf" and csrf["path"] == "/login"
    assert csrf["httpOnly"] and csrf["sameSite"] == "Strict"
    assert page.goto(server.url + "/").url.startswith(server.url + "/login")

    login(page, server, server.tokens["admin"])
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "mlcost_token"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # not readable by scripts
    page.click("text=Log out")
    page.wait_for_load_state()
    assert [c["name"] for c in page.context.cookies()] == ["mlcost_csrf"]  # the new login form's
    assert page.goto(server.url + "/").url.startswith(server.url + "/login")


def test_planner_forms_answer_with_the_library_s_figures(
    open_page: Any, server: DashboardServer
) -> None:
    from mlcost.plan.memory import estimate_memory
    from mlcost.plan.spot import plan_spot_for

    page = open_page(server.tokens["vision"])  # the planners need no team scope
    page.goto(server.url + "/planner")
    page.select_option("select[name=model]", "mistral-7b")
    page.select_option("select[name=mode]", "qlora")
    page.fill("input[name=seq]", "4096")
    page.click("button:text-is('Estimate')")
    page.wait_for_load_state()
    est = estimate_memory("mistral-7b", mode="qlora", seq=4096)
    assert page.inner_text("#memory-result h2") == f"{est.per_gpu_gib:.1f} GiB per GPU"
    assert page.locator("#memory-result table.fits tbody tr").count() > 0

    page.fill("input[name=hours]", "100")
    page.fill("input[name=instance]", "g5.xlarge")
    page.click("button:text-is('Compare')")
    page.wait_for_load_state()
    expected = plan_spot_for(100, instance="g5.xlarge")
    assert page.inner_text("#spot-result b") == expected.verdict

    # A wrong entry answers 400 with the library's message, naming the way out.
    response = page.goto(server.url + "/planner?tool=spot&instance=p9.huge&hours=5")
    assert response.status == 400
    assert "p9.huge" in page.inner_text("[role=alert]")


def test_no_auth_mode_shows_the_pages_without_a_login(browser: Any, demo: Demo) -> None:
    from tests.server.conftest import serving

    with serving(demo.settings, no_auth=True) as url:
        ctx = browser.new_context()
        try:
            offline = Offline(url)
            ctx.route("**/*", offline)
            page = ctx.new_page()
            assert page.goto(url + "/teams/search").status == 200
            assert page.url == url + "/teams/search"
            assert page.locator("text=Log out").count() == 0  # no session to end
            assert offline.blocked == []
        finally:
            ctx.close()
