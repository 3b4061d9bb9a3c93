"""GET /health on API Gateway: 200 when PostgreSQL and Redis answer, 503 otherwise."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.core.settings import core_settings
from hostpulse.services.self_monitoring.health import check_health
from hostpulse.wiring.components import health_probes
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import observe

observed = observe("health")
probes = Lazy(lambda: health_probes(core_settings()))


@observed.logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    healthy, body = check_health(probes())
    return {
        "statusCode": 200 if healthy else 503,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
