"""The rendered report: a self-contained HTML page that opens in a real headless Chromium
without touching the network, Markdown with the same numbers, and a short Slack message."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlcost.report import render_html, render_markdown, render_slack
from tests.report.conftest import Demo


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_has_no_external_reference(demo: Demo) -> None:
    html = render_html(demo.report)
    parser = _Tags()
    parser.feed(html)
    names = [t for t, _ in parser.tags]
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(names)
    assert not [a for _, attrs in parser.tags for a in attrs if a in ("src", "href", "srcset")]
    assert not re.search(r"https?://|url\(|@import|//cdn", html, re.IGNORECASE)
    # Charts are inline SVG: spend over time, used/idle bars, one burn-down per budget.
    assert names.count("svg") == 2 + len(demo.report.budgets)
    assert "<polygon" in html  # the forecast band


def test_html_shows_the_numbers_with_their_currency(demo: Demo) -> None:
    r = demo.report
    html = render_html(r)
    assert f"{r.total.this_week:,.2f} USD" in html
    assert f"{r.total.last_week:,.2f} USD" in html
    assert f"{r.gpu_total.idle:,.2f} USD" in html
    for b in r.budgets:
        assert f"{b.spent:,.2f} USD" in html
    for i in r.insights:
        assert f"{i.saving:,.2f} USD" in html


def test_markdown_and_slack_agree_with_the_data(demo: Demo) -> None:
    r = demo.report
    md = render_markdown(r)
    assert md.startswith(f"# Weekly cost report {r.week} (all owners)")
    for section in ("## What changed", "## By team", "## By project", "## By model"):
        assert section in md
    assert "## By workload type" in md and "## Budgets" in md and "## Unit costs" in md
    for line in r.breakdowns["team"][:3]:
        assert f"| {line.key} | {line.this_week:,.2f} USD |" in md
    slack = render_slack(r)
    lines = slack.strip().splitlines()
    assert len(lines) <= 16
    assert lines[0].startswith(f"*Weekly cost report {r.week}")
    assert f"*{r.total.this_week:,.2f} USD*" in lines[1]
    # A recurring saving is "/month"; money spent once says so and is never called monthly.
    top = r.insights[:3]
    assert sum(x.startswith("• ") and "/month" in x for x in lines) == sum(
        i.saving_type == "recurring" for i in top
    )
    assert sum(x.startswith("• ") and "once (already spent)" in x for x in lines) == sum(
        i.saving_type == "one_off" for i in top
    )
    # Every amount with decimals carries its currency.
    for amount in re.finditer(r"(?<![\w.])[+-]?\d[\d,]*\.\d\d(?![\w.])", slack):
        assert slack[amount.end() :].startswith((" USD", "..")), slack[amount.start() - 20 :]


# ------------------------------------------------------------------ headless Chromium


# Chromium's own services (component updates, network time, sign-in) that it calls on start
# whatever the page is, even with background networking disabled (Chromium 13x, 2026).
BROWSER_SERVICES = {
    "accounts.google.com",
    "clients2.google.com",
    "clientservices.googleapis.com",
    "edgedl.me.gvt1.com",
    "optimizationguide-pa.googleapis.com",
    "redirector.gvt1.com",
    "safebrowsing.googleapis.com",
    "update.googleapis.com",
}


def _host(request: str) -> str:
    method, target = request.split(" ", 1)
    if method == "CONNECT":
        return target.rsplit(":", 1)[0]
    return target.split("://", 1)[-1].split("/", 1)[0].split(":")[0]


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP proxy that records every request the page makes (Chromium's own
    service calls aside) and answers none of them."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            request = f"{self.command} {self.path}"
            if _host(request) not in BROWSER_SERVICES:
                seen.append(request)
            self.send_response(502)
            self.end_headers()

        do_GET = do_POST = do_CONNECT = do_HEAD = _record

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium (Debian: apt-get install chromium)")


def _open(page: Path, proxy_url: str, tmp: Path) -> str:
    """The DOM after Chromium loaded ``page``, every network request sent to ``proxy_url``."""
    done = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp / 'profile'}",
            f"--proxy-server={proxy_url}",
            "--proxy-bypass-list=<-loopback>",  # even loopback goes through the proxy
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_html_opens_in_chromium_without_network(
    demo: Demo, proxy: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, seen = proxy
    # The harness sees a page that does reach out (so silence below means something) ...
    probe = tmp_path / "probe.html"
    probe.write_text('<!doctype html><img src="http://report.invalid/pixel.png"><p>probe</p>')
    _open(probe, url, tmp_path)
    assert any("report.invalid" in s for s in seen), seen
    seen.clear()
    # ... and the report makes no request at all, yet renders its charts.
    page = tmp_path / "weekly.html"
    page.write_text(render_html(demo.report), encoding="utf-8")
    dom = _open(page, url, tmp_path)
    assert seen == []
    assert f"<title>{demo.report.title}</title>" in dom
    assert dom.count("<svg") == 2 + len(demo.report.budgets)
    assert f"{demo.report.total.this_week:,.2f} USD" in dom
