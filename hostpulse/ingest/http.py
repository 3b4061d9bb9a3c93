"""API Gateway (REST, proxy) requests and responses for the ingest function."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from hostpulse.ingest.service import IngestRequest, IngestResponse, IngestService

SEED_PATH = "/ingest/metrics"


def request_from_event(event: APIGatewayProxyEvent) -> IngestRequest:
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    return IngestRequest(body=body, headers=headers, received_ms=int(time.time() * 1000))


def proxy_response(response: IngestResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": "application/json", **response.headers},
        "body": json.dumps(response.body),
    }


def handle_ingest_event(event: APIGatewayProxyEvent, service: IngestService) -> dict[str, Any]:
    request = request_from_event(event)
    if event.resource == SEED_PATH or event.path.endswith(SEED_PATH):
        return proxy_response(service.ingest_seed(request))
    return proxy_response(service.ingest(request))
