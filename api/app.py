"""The query API: FastAPI, served by uvicorn or by Mangum on Lambda; also serves the dashboard."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.routers import (
    agent_config,
    alerts,
    health,
    hosts,
    live,
    pipeline,
    prometheus,
    rule_groups,
    seed,
    series,
    session,
    silences,
)
from hostpulse.core.settings import ApiSettings, api_settings
from hostpulse.core.tiers import RangeError
from hostpulse.services.promql import wire
from hostpulse.services.promql.model import PromQLError
from hostpulse.services.query.service import NotFound
from hostpulse.wiring.lazy import settle_heap

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


class BoundedBodies:
    """Refuses a request body over ``limit`` bytes with 413 before any of it is parsed: by its
    Content-Length at once, or, sent without one, as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self.too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self.too_large(scope, receive, send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = JSONResponse(
            {"detail": f"the request body is over {self.limit} bytes"}, status_code=413
        )
        await answer(scope, receive, send)


# A refused request is described, never echoed: its input may be megabytes, or hold values
# (NaN, infinities) that JSON cannot carry.
MAX_ERRORS = 20
COMPRESS_FROM_BYTES = 1024  # below a packet's worth, gzip's header and the CPU buy nothing
MAX_TEXT = 200


def validation_problems(error: RequestValidationError) -> list[dict[str, object]]:
    def short(part: object) -> object:
        return part[:MAX_TEXT] if isinstance(part, str) else part

    return [
        {
            "loc": [short(part) for part in problem["loc"]],
            "msg": str(problem["msg"])[:MAX_TEXT],
            "type": str(problem["type"]),
        }
        for problem in error.errors()[:MAX_ERRORS]
    ]


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

    @app.exception_handler(PromQLError)
    async def promql_refused(request: Request, error: PromQLError) -> JSONResponse:
        body = wire.error(error.error_type, str(error))
        return JSONResponse(body, status_code=wire.STATUS[error.error_type])

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_problems(error)}, status_code=422)

    routers = (health, session, hosts, series, live, seed, alerts, rule_groups, silences,
               pipeline, agent_config, prometheus)  # fmt: skip
    for router in (module.router for module in routers):
        app.include_router(router)
    app.include_router(alerts.admin_router)
    app.include_router(rule_groups.admin_router)
    app.include_router(hosts.operator_router)
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
    app.add_middleware(BoundedBodies, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    frontend = settings.frontend_dir
    if frontend is not None and (frontend / "index.html").is_file():
        # Last, so that every API route wins over a file of the same name.
        app.mount("/", StaticFiles(directory=frontend, html=True), name="dashboard")
    return app


def served_app() -> FastAPI:
    """The app as a server runs it (uvicorn's factory): built, then kept out of the garbage
    collector's full walks for the life of the process.

    Answers are compressed here, for a browser or Grafana that asks: a fleet's host list is
    large JSON, refreshed by every open page. At zlib's cheapest level, which saves nearly as
    much as the best for a small part of its CPU. The Lambda handler builds the app without
    it: behind API Gateway, compressing is the gateway's part."""
    app = create_app()
    app.add_middleware(GZipMiddleware, minimum_size=COMPRESS_FROM_BYTES, compresslevel=1)
    settle_heap()
    return app
