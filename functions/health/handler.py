"""GET /health on API Gateway: 200 when PostgreSQL and Redis answer, 503 otherwise."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.adapters.postgres.probe import PostgresProbe
from hostpulse.adapters.redis.probe import RedisProbe
from hostpulse.health import Probe, check_health
from hostpulse.settings import core_settings

logger = Logger(service="health")
settings = core_settings()
probes: list[Probe] = [
    PostgresProbe(settings.database_url, settings.connect_timeout_seconds),
    RedisProbe(settings.redis_url, settings.connect_timeout_seconds),
]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    healthy, body = check_health(probes)
    return {
        "statusCode": 200 if healthy else 503,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
