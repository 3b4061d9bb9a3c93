"""POST /v1/ingest, POST /v1/agent/sync and the seed's POST /ingest/metrics on API Gateway."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from hostpulse.services.ingest.http import handle_ingest_event
from hostpulse.wiring.components import ingest_service
from hostpulse.wiring.lazy import Lazy
from hostpulse.wiring.observability import observe

observed = observe("ingest")
service = Lazy(lambda: ingest_service(observed.counters))


@observed.metrics.log_metrics
@observed.logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@event_source(data_class=APIGatewayProxyEvent)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    return handle_ingest_event(event, service())
