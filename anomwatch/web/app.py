"""The app factory of `anomwatch web`: state, auth on every route, the page routers.

`create_app` is where other endpoints join (the Prometheus exporter's /metrics goes in
`extra_routers`, or is mounted on the returned app): the login middleware answers 401
before any route, mounted apps included, and routers also get the app-wide
`require_user` dependency.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import HTTPException
from fastapi.responses import PlainTextResponse, Response

from anomwatch.errors import AnomwatchError
from anomwatch.settings import Settings
from anomwatch.store.db import Store
from anomwatch.web.auth import (
    Credentials,
    credentials_from,
    login,
    require_user,
    unauthorized_response,
)
from anomwatch.web.routes import charts, feedback, items, metrics, monitors
from anomwatch.web.templating import make_templates, render


def create_app(
    settings: Settings,
    store: Store | None = None,
    credentials: Credentials | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The web app over `store` (default: the settings' store), guarded by `credentials`
    (default: parsed from the settings). The caller disposes of the store."""
    app = FastAPI(
        title="anomwatch",
        dependencies=[Depends(require_user)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.store = store or Store(settings.resolved_store_url)
    app.state.credentials = credentials or credentials_from(settings)
    app.state.csrf_secret = secrets.token_bytes(32)
    app.state.templates = make_templates()
    routers = (monitors.router, items.router, feedback.router, charts.router, metrics.router)
    for router in (*routers, *extra_routers):
        app.include_router(router)

    @app.exception_handler(HTTPException)
    async def _errors(request: Request, exc: HTTPException) -> Response:
        """Errors as a short page (or text); never the exception's internals."""
        if exc.status_code == 401 or "text/html" not in request.headers.get("accept", ""):
            return PlainTextResponse(str(exc.detail), exc.status_code, headers=exc.headers)
        return render(request, "error.html", exc.status_code, message=str(exc.detail))

    @app.exception_handler(AnomwatchError)
    async def _store_errors(request: Request, exc: AnomwatchError) -> Response:
        """The store or a config refused (e.g. a read-only role asked to write): say so,
        with the message anomwatch already masks for logs, as a 503."""
        return await _errors(request, HTTPException(503, str(exc)))

    @app.middleware("http")
    async def _guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Logins first (unknown paths too: a 404 would tell what exists), then headers."""
        if await run_in_threadpool(login, request) is None:  # scrypt off the event loop
            response: Response = unauthorized_response()
        else:
            response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
