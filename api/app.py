"""The query API: FastAPI, served by uvicorn or by Mangum on Lambda; also serves the dashboard."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.routers import (
    agent_config,
    alerts,
    health,
    hosts,
    live,
    pipeline,
    seed,
    series,
    session,
)
from hostpulse.query import NotFound
from hostpulse.settings import ApiSettings, api_settings
from hostpulse.tiers import RangeError
from hostpulse.wiring import settle_heap

# The dashboard loads only its own files and talks only to its own origin (the API that serves
# it); no page may frame it (clickjacking), and no URL (which may carry ?token=) leaks in a
# Referer. A dashboard deployed as a static site elsewhere sets its own headers.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        # Inline style attributes only (the chart library sets them); never inline script.
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """Pure ASGI middleware (not BaseHTTPMiddleware, which would buffer the live WebSocket)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or api_settings()
    app = FastAPI(
        title="hostpulse",
        version="1",
        description="Query API of hostpulse: hosts, series from the right tier, snapshots, "
        "the live feed, and the seed platform's read endpoints.",
    )
    app.state.settings = settings

    # The services' own errors, as the answers they stand for: one place for every router.
    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(RangeError)
    async def bad_range(request: Request, error: RangeError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    routers = (health, session, hosts, series, live, seed, alerts, pipeline, agent_config)
    for router in (module.router for module in routers):
        app.include_router(router)
    app.include_router(alerts.admin_router)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            # Credentials: a dashboard served from one of these origins signs in against this
            # API (docs/security.md, "Signing in from another origin").
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
        )
    app.add_middleware(SecurityHeaders)
    frontend = settings.frontend_dir
    if frontend is not None and (frontend / "index.html").is_file():
        # Last, so that every API route wins over a file of the same name.
        app.mount("/", StaticFiles(directory=frontend, html=True), name="dashboard")
    return app


def served_app() -> FastAPI:
    """The app as a server runs it (uvicorn's factory): built, then kept out of the garbage
    collector's full walks for the life of the process."""
    app = create_app()
    settle_heap()
    return app
