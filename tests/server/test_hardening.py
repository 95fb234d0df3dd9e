"""Issue 22 items 10 and 13 (server part): tokens, the login form and the Host header.

- An unknown but well-formed token is refused from the in-memory token table, with no
  warehouse work: while another process holds the file for writing (any open would fail and
  answer 503), such a token still gets 401.
- Tokens may expire (``mlcost tokens create --expires``); after that they are refused.
- The login form carries a per-form CSRF token bound to a cookie; a post without it is refused.
- No page carries the request's ``Host`` header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mlcost.cli.main import main
from mlcost.config import load_settings
from mlcost.server.auth import create_token
from mlcost.testing import write_focus_file
from mlcost.warehouse import open_warehouse
from tests.holding import holding
from tests.server.conftest import Demo, bearer, serving

UNKNOWN = "mlcost_deadbeef_" + "A" * 43  # well-formed, never created


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A small warehouse with an admin token, served: (URL, warehouse file, token)."""
    db = tmp_path / "w.duckdb"
    assert (
        main(
            [
                "--warehouse",
                str(db),
                "ingest",
                "focus",
                str(write_focus_file(tmp_path / "may.csv", 50)),
            ]
        )
        == 0
    )
    with open_warehouse(str(db)) as wh:
        _, token = create_token(wh, ["admin"], "admin")
    settings = load_settings(warehouse=str(db), cwd=tmp_path, env={"HOME": str(tmp_path)})
    with serving(settings) as url:
        yield url, db, token


def test_an_unknown_token_costs_no_warehouse_work(small: tuple[str, Path, str]) -> None:
    url, db, token = small
    assert httpx.get(f"{url}/api/v1/me", headers=bearer(token)).status_code == 200
    # Another process takes the file for writing: any open by the server now fails.
    wrong = token[:-1] + ("B" if token[-1] != "B" else "C")
    with holding(db):
        for presented in (UNKNOWN, "not-a-token", wrong):
            r = httpx.get(f"{url}/api/v1/spend", headers=bearer(presented))
            assert r.status_code == 401, r.text
        # A known token's question does need the file: 503, and when to come back.
        r = httpx.get(f"{url}/api/v1/spend", params={"by": "RegionId"}, headers=bearer(token))
        assert r.status_code == 503 and r.headers["retry-after"].isdigit()
    assert httpx.get(f"{url}/api/v1/me", headers=bearer(token)).status_code == 200


def test_tokens_expire(small: tuple[str, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    url, db, _ = small
    wh_args = ["--warehouse", str(db)]
    assert main([*wh_args, "tokens", "create", "--scope", "read:all", "--expires", "30d"]) == 0
    out, err = capsys.readouterr()
    live = out.strip()
    assert "expiring" in err
    assert main([*wh_args, "tokens", "list", "--format", "json"]) == 0
    assert (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d") in capsys.readouterr().out
    assert httpx.get(f"{url}/api/v1/me", headers=bearer(live)).status_code == 200
    # Past its expiry, the same token is refused.
    token_id = live.split("_")[1]
    with open_warehouse(str(db)) as wh, wh.transaction():
        wh.update_where("api_tokens", {"expires_at": datetime(2026, 1, 1)}, {"token_id": token_id})
    r = httpx.get(f"{url}/api/v1/me", headers=bearer(live))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    # An expiry in the past, or nonsense, is refused at creation.
    for bad in ("2020-01-01", "soon", "0d"):
        assert main([*wh_args, "tokens", "create", "--scope", "read:all", "--expires", bad]) == 2
        assert "30d" in capsys.readouterr().err


def _form(client: httpx.Client) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_login_needs_the_forms_csrf_token(small: tuple[str, Path, str]) -> None:
    url, _, token = small
    with httpx.Client(base_url=url, follow_redirects=False) as client:
        csrf = _form(client)
        # Without the form's token (a cross-site post), or with another form's: refused.
        r = client.post("/login", data={"token": token, "next": "/"})
        assert r.status_code == 403 and "mlcost_token" not in r.cookies
        with httpx.Client(base_url=url) as other:
            theirs = _form(other)
        r = client.post("/login", data={"token": token, "csrf": theirs, "next": "/"})
        assert r.status_code == 403 and "mlcost_token" not in r.cookies
        csrf = _form(client)
        r = client.post("/login", data={"token": token, "csrf": csrf, "next": "/"})
        assert r.status_code == 303 and r.cookies.get("mlcost_token") == token


def test_the_host_header_is_not_reflected(base_url: str, demo: Demo) -> None:
    url, token = base_url, demo.tokens["admin"]
    host = {"Host": "evil.example"}
    login = httpx.get(f"{url}/login", headers=host)
    page = httpx.get(f"{url}/", headers=host, cookies={"mlcost_token": token})
    assert login.status_code == 200 and page.status_code == 200
    assert "evil.example" not in login.text and "evil.example" not in page.text
    assert "/static/dashboard.css" in page.text


def test_a_token_made_before_migration_11_works_before_and_after_it(tmp_path: Path) -> None:
    from mlcost.server.auth import authenticate

    url = str(tmp_path / "old.duckdb")
    with open_warehouse(url, migrate_to=9) as old:
        _, token = create_token(old, ["read:all"], "old")
    with open_warehouse(url, read_only=True) as ro:  # a server over the unmigrated file
        assert "expires_at" not in ro.table("api_tokens").columns
        principal = authenticate(ro, token)
        assert principal is not None and principal.scopes == {"read:all"}
    with open_warehouse(url) as new:
        assert "expires_at" in new.table("api_tokens").columns
        assert authenticate(new, token) == principal


def test_the_dashboard_answers_before_any_allocation(small: tuple[str, Path, str]) -> None:
    """Bills loaded, `mlcost showback` not run yet: the overview is a page, not a 500."""
    url, _, token = small
    r = httpx.get(f"{url}/", cookies={"mlcost_token": token})
    assert r.status_code == 200, r.text[:300]
