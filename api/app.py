"""The query API: FastAPI, served by uvicorn or by Mangum on Lambda."""

from __future__ import annotations

from fastapi import FastAPI

from api.routers import health, hosts, series


def create_app() -> FastAPI:
    app = FastAPI(
        title="hostpulse",
        version="1",
        description="Query API of hostpulse: hosts, series from the right tier, snapshots.",
    )
    app.include_router(health.router)
    app.include_router(hosts.router)
    app.include_router(series.router)
    return app


app = create_app()
