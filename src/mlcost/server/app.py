"""The FastAPI application of ``mlcost serve``: REST API, Prometheus metrics, dashboard.

``create_app(settings)`` builds it; nothing starts until uvicorn serves it. The warehouse is
opened read-only per request and answers are cached per state of the file (see
:mod:`mlcost.server._state`). ``/healthz`` answers without a token; everything else needs one
(:func:`mlcost.server.auth.current_principal`) unless the app is built with ``no_auth=True``,
which ``mlcost serve --no-auth`` allows on a loopback address only.
"""

from __future__ import annotations

import importlib
import logging
import secrets
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from mlcost.errors import InvalidInput, MlcostError, NotFound, WarehouseError, WarehouseLocked
from mlcost.server.auth import Principal, authorized

if TYPE_CHECKING:
    from mlcost.config import Settings
    from mlcost.warehouse import WarehouseTarget

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"
RETRY_AFTER_S = 5  # what a 503 tells clients while a writer (ingest, tokens) holds the file
_log = logging.getLogger(__name__)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlcost")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def create_app(
    settings: Settings, *, no_auth: bool = False, target: WarehouseTarget | None = None
) -> FastAPI:
    """The server for ``target`` (default: the settings' warehouse, parsed once here);
    ``no_auth`` serves everyone as admin.

    ``app.state`` carries ``settings``, ``target``, ``no_auth``, ``csrf_key`` and ``reader`` (the
    read-only, cached view of the warehouse that every route uses).
    """
    from mlcost.server import api, metrics
    from mlcost.server._state import Reader
    from mlcost.warehouse import target_of

    target = target_of(settings) if target is None else target

    # The schema needs a token like everything but /healthz; no Swagger / ReDoc pages (they
    # load their scripts from a CDN, and the server must work offline).
    app = FastAPI(
        title="mlcost",
        version=_version(),
        description="Where the ML money goes: spend, showback, insights, budgets, policies, "
        "catalog and planners. Send `Authorization: Bearer <token>` (mlcost tokens create).",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.target = target
    app.state.no_auth = no_auth
    app.state.reader = Reader(target)
    app.state.csrf_key = secrets.token_bytes(32)  # signs the login form's CSRF tokens

    @app.get("/healthz", tags=["server"], summary="Liveness: answers without a token")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(principal: Annotated[Principal, Depends(authorized)]) -> JSONResponse:
        return JSONResponse(_schema(app))

    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(metrics.router)
    _add_error_handlers(app)
    try:
        dashboard = importlib.import_module("mlcost.server.dashboard")
    except ModuleNotFoundError as exc:
        if exc.name is None or not "mlcost.server.dashboard".startswith(exc.name):
            raise  # the dashboard exists but one of its own imports is missing
        _log.info("no dashboard package: serving the API and metrics only")
    else:
        app.include_router(dashboard.router)
    return app


def _schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema, with the bearer token every operation but /healthz needs."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "mlcost tokens create"}
        }
        schema["security"] = [{"bearer": []}]
        schema["paths"]["/healthz"]["get"]["security"] = []
        app.openapi_schema = schema
    return app.openapi_schema


def _add_error_handlers(app: FastAPI) -> None:
    """Library errors become answers that say what to fix, never a 500 with a traceback."""

    async def bad_request(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    async def locked(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": str(exc)},
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    app.add_exception_handler(InvalidInput, bad_request)
    app.add_exception_handler(WarehouseLocked, locked)
    app.add_exception_handler(NotFound, bad_request)
    app.add_exception_handler(WarehouseError, unavailable)
    app.add_exception_handler(MlcostError, bad_request)
