"""The query API: FastAPI, served by uvicorn or by Mangum on Lambda; also serves the dashboard."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.routers import alerts, health, hosts, live, seed, series
from hostpulse.query import NotFound
from hostpulse.settings import ApiSettings, api_settings
from hostpulse.tiers import RangeError


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

    routers = (health, hosts, series, live, seed, alerts)
    for router in (module.router for module in routers):
        app.include_router(router)
    app.include_router(alerts.admin_router)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET"],
            allow_headers=["Authorization"],
        )
    frontend = settings.frontend_dir
    if frontend is not None and (frontend / "index.html").is_file():
        # Last, so that every API route wins over a file of the same name.
        app.mount("/", StaticFiles(directory=frontend, html=True), name="dashboard")
    return app
