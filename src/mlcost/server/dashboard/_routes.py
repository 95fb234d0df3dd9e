"""The dashboard's pages: server-rendered (Jinja2), charts drawn by the vendored Chart.js from
JSON embedded in the page. Nothing is fetched from another origin (``Content-Security-Policy``
says so to the browser)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from mlcost.server.auth import COOKIE, Principal
from mlcost.server.dashboard import _figures

if TYPE_CHECKING:
    from mlcost.config import BudgetConfig, Settings
    from mlcost.server._state import Reader
    from mlcost.warehouse import Warehouse

__all__ = ["router"]

T = TypeVar("T")
HERE = Path(__file__).parent
STATIC = HERE / "static"
CSRF_COOKIE = "mlcost_csrf"
# Same-origin only: the pages load no script, style, font or image from anywhere else.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


def _money(value: Decimal | float | None, currency: str = "") -> str:
    """``12,345.67 USD``: money always shows its currency (blank only where a column says it)."""
    if value is None:
        return "—"
    text = f"{float(value):,.2f}"
    return f"{text} {currency}" if currency else text


templates.env.filters["money"] = _money
templates.env.globals["one_day"] = timedelta(days=1)  # budget periods end exclusive


class _Denied(Exception):
    """The viewer may not see this page (403), or it does not exist (404)."""

    def __init__(self, status: int, heading: str, message: str) -> None:
        super().__init__(message)
        self.status, self.heading, self.message = status, heading, message


def _principal(request: Request) -> Principal | None:
    from mlcost.server.auth import current_principal

    try:
        return current_principal(request)
    except HTTPException:
        return None


def _with_token(request: Request, token: str) -> Principal | None:
    """The principal ``token`` stands for, checked as an API call's Bearer header is."""
    principal: Principal | None = request.app.state.reader.principal(token)
    return principal


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _cached(request: Request, key: tuple[Any, ...], compute: Callable[[Warehouse], T]) -> T:
    """``compute(warehouse)`` through the server's read-only, cached view of the warehouse."""
    reader: Reader = request.app.state.reader
    return reader.cached(("dashboard", *key), compute)


def _html(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def _who(p: Principal) -> str:
    return f"{p.token_id} · {', '.join(sorted(p.scopes))}"


def _render(
    request: Request, page: str, build: Callable[[Principal, Settings], dict[str, Any]]
) -> Response:
    """Log-in check, then ``build``'s values into ``<page>.html``; a refusal becomes the
    error page with its status. Without a valid token: to the login page and back."""
    p = _principal(request)
    if p is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    base = {
        "principal": p,
        "who": _who(p),
        "page": page,
        "title": page.capitalize(),
        "logout": not request.app.state.no_auth,  # no-auth mode has no session to end
    }
    try:
        values = build(p, _settings(request))
    except _Denied as d:
        ctx = {**base, "status": d.status, "heading": d.heading, "message": d.message}
        return _html(request, "error.html", {**ctx, "title": d.heading}, d.status)
    return _html(request, f"{page}.html", {**base, **values})


def _budgets(request: Request, p: Principal) -> tuple[BudgetConfig, ...]:
    """The budgets ``p`` may see, by the API's rule (a team token: budgets scoped to its
    teams only), so that page and API agree."""
    from mlcost.server.api import _visible_budgets

    return _visible_budgets(request, p)


def _may_see(p: Principal, team: str) -> None:
    if not p.can_read_team(team):
        raise _Denied(
            403,
            "Forbidden",
            f"Your token ({_who(p)}) may not see team {team!r}. Ask an admin for a token "
            f"with read:team:{team} or read:all.",
        )


@router.get("/static/{path:path}", name="dashboard-static")
def static(path: str) -> Response:
    """The dashboard's own CSS and JS and the vendored Chart.js (no data, no token needed)."""
    if "\x00" in path:  # no file has one; resolve() would raise on it
        return Response("Not found", status_code=404, media_type="text/plain")
    target = (STATIC / path).resolve()
    if STATIC.resolve() not in target.parents or not target.is_file():
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, {"title": "Log in", "next": _safe_next(next)})


def _safe_next(target: str) -> str:
    """Only a path on this site: never ``//host`` or ``https://host``."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _csrf_for(request: Request, nonce: str) -> str:
    key: bytes = request.app.state.csrf_key
    return hmac.new(key, nonce.encode("ascii"), hashlib.sha256).hexdigest()


def _login_page(request: Request, ctx: dict[str, Any], status: int = 200) -> Response:
    """The login form with a per-form CSRF token: a fresh nonce in a SameSite=Strict cookie,
    and its HMAC under the server's key in the form; a post must bring both."""
    nonce = secrets.token_urlsafe(16)
    response = _html(request, "login.html", {**ctx, "csrf": _csrf_for(request, nonce)}, status)
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the form's CSRF token and the pasted API token; keep the API token in an
    HttpOnly, SameSite=Strict cookie."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/"])[0])
    nonce = request.cookies.get(CSRF_COOKIE, "")
    sent = (form.get("csrf") or [""])[0]
    if not nonce or not hmac.compare_digest(sent, _csrf_for(request, nonce)):
        ctx = {
            "title": "Log in",
            "next": target,
            "error": "This form has expired or did not come from this site; log in again.",
        }
        return _login_page(request, ctx, 403)
    # The first check of a token reads the warehouse: not on the event loop.
    if not token or await run_in_threadpool(_with_token, request, token) is None:
        ctx = {
            "title": "Log in",
            "next": target,
            "error": "That token is not valid (unknown, revoked, expired or mistyped). "
            "Create one with: mlcost tokens create --scope read:all",
        }
        return _login_page(request, ctx, 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request) -> Response:
    def build(p: Principal, s: Settings) -> dict[str, Any]:
        shown = _budgets(request, p)
        o = _cached(
            request, ("overview", p.teams), lambda wh: _figures.overview(wh, s, p.teams, shown)
        )
        return {"o": o, "title": "Overview"}

    return _render(request, "overview", build)


@router.get("/teams/{team}", response_class=HTMLResponse)
def team_view(request: Request, team: str) -> Response:
    def build(p: Principal, s: Settings) -> dict[str, Any]:
        _may_see(p, team)
        known = _cached(request, ("teams",), lambda wh: _figures.known_teams(wh, s))
        if team not in known:
            raise _Denied(
                404,
                "No such team",
                f"No allocated spend for team {team!r}. Teams: {', '.join(known) or 'none'}.",
            )
        shown = _budgets(request, Principal(p.token_id, frozenset({f"read:team:{team}"})))
        t = _cached(request, ("team", team), lambda wh: _figures.team_page(wh, s, team, shown))
        return {"t": t, "title": f"Team {team}"}

    return _render(request, "team", build)


@router.get("/models/{model}", response_class=HTMLResponse)
def model_view(request: Request, model: str) -> Response:
    def build(p: Principal, s: Settings) -> dict[str, Any]:
        listed = _cached(request, ("models", p.teams), lambda wh: _figures.models(wh, s, p.teams))
        if model not in dict(listed):
            raise _Denied(
                404,
                "No such model",
                f"No spend tagged model={model!r} this month for the teams you may see.",
            )
        m = _cached(
            request,
            ("model", model, p.teams),
            lambda wh: _figures.model_page(wh, s, model, p.teams),
        )
        scoped = p.teams is not None
        return {"m": m, "model": model, "models": listed, "scoped": scoped, "title": model}

    return _render(request, "model", build)


@router.get("/gpus", response_class=HTMLResponse)
def gpus_view(request: Request) -> Response:
    def build(p: Principal, s: Settings) -> dict[str, Any]:
        g = _cached(request, ("gpus", p.teams), lambda wh: _figures.gpu_page(wh, s, p.teams))
        return {"g": g, "title": "GPU used and idle"}

    return _render(request, "gpus", build)


@router.get("/insights", response_class=HTMLResponse)
def insights_view(request: Request) -> Response:
    def build(p: Principal, s: Settings) -> dict[str, Any]:
        found = _cached(
            request, ("findings", p.teams), lambda wh: _figures.visible_findings(wh, p.teams)
        )
        from mlcost.insights import Plan, stored_plan

        def plan_of(wh: Any) -> Plan:
            # The savings plan (mlcost insights --plan): each resource-hour counted once.
            plan = stored_plan(wh, s.attribution)
            return plan if p.teams is None else plan.for_owners(p.teams)

        plan = _cached(request, ("plan", p.teams), plan_of)
        one_off = {plan.currency: plan.one_off_waste} if plan.one_off_waste else {}
        return {
            "findings": found,
            "savings": {plan.currency: plan.recurring_monthly_saving} if found else {},
            "one_off": one_off,
            "scoped": p.teams is not None,
        }

    return _render(request, "insights", build)


@router.get("/budgets", response_class=HTMLResponse)
def budgets_view(request: Request) -> Response:
    def build(p: Principal, s: Settings) -> dict[str, Any]:
        from mlcost.budgets import statuses

        shown = _budgets(request, p)
        found = _cached(request, ("budgets", p.teams), lambda wh: statuses(wh, shown))
        return {"budgets": found}

    return _render(request, "budgets", build)


@router.get("/planner", response_class=HTMLResponse)
def planner_view(request: Request) -> Response:
    """The planners need no warehouse; a wrong form answers 400 with the reason on the page."""
    from mlcost.server.dashboard._planner import planner_context

    ctx: dict[str, Any] = {}

    def build(p: Principal, s: Settings) -> dict[str, Any]:
        values, ctx["bad"] = planner_context(dict(request.query_params))
        return values

    response = _render(request, "planner", build)
    if ctx.get("bad"):
        response.status_code = 400
    return response
