"""Make docs/dashboard-overview.png the way a user would see the dashboard.

Runs the commands of docs/dashboard.md on the demo organization (40 days, so that June is
compared with May), serves it with `mlcost serve` on a free loopback port, logs in with an
admin token in Debian's headless chromium (Playwright with ``executable_path``; every request
that is not to the server is aborted) and saves the overview.

    .venv/bin/python scripts/screenshot_dashboard.py [--out docs/dashboard-overview.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def mlcost(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(BIN / "mlcost"), *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard-overview.png"))
    parser.add_argument("--days", type=int, default=40)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium on PATH: run `make tools` (Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        mlcost("demo", "--out", str(demo), "--days", str(args.days), cwd=Path(tmp))
        for month in ("2026-05", "2026-06"):
            mlcost("showback", "--month", month, cwd=demo)
        token = mlcost("tokens", "create", "--scope", "admin", cwd=demo).split()[0]
        port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        server = subprocess.Popen(
            [str(BIN / "mlcost"), "serve", "--port", str(port)], cwd=demo, env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        sys.exit("mlcost serve did not start")
                    time.sleep(0.2)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.route(
                    "**/*",
                    lambda r: r.continue_() if r.request.url.startswith(url) else r.abort(),
                )
                page.goto(url + "/login")
                page.fill("#token", token)
                page.click("button[type=submit]")
                page.wait_for_load_state()
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
