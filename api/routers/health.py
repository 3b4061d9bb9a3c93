"""Health of the API's own dependencies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.dependencies import Probes
from hostpulse.core.responses import HealthAnswer
from hostpulse.services.self_monitoring.health import check_health

router = APIRouter(tags=["health"])


DEGRADED: dict[int | str, dict[str, Any]] = {
    503: {"model": HealthAnswer, "description": "PostgreSQL or Redis does not answer"}
}


@router.get(
    "/health",
    summary="200 when PostgreSQL and Redis answer, else 503 (seed path)",
    responses=DEGRADED,
)
@router.get(
    "/api/v1/health",
    summary="200 when PostgreSQL and Redis answer, else 503",
    responses=DEGRADED,
)
def health(response: Response, probes: Probes) -> HealthAnswer:
    healthy, body = check_health(probes)
    response.status_code = 200 if healthy else 503
    return body
