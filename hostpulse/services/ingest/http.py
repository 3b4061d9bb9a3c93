"""API Gateway (REST, proxy) requests and responses for the ingest function."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from hostpulse.services.ingest.otlp.route import OTLP_PATH, ingest_otlp
from hostpulse.services.ingest.remote_write.route import WRITE_PATH, ingest_remote_write
from hostpulse.services.ingest.service import IngestRequest, IngestResponse, IngestService

SEED_PATH = "/ingest/metrics"
SYNC_PATH = "/v1/agent/sync"
# The seed agent POSTs to {backend_url}/ingest/metrics and sends no header at all, so its
# backend_url carries its token: {api}/seed/{token} (printed by `hostpulse agents add --seed`).
SEED_PATH_PARAMETER = "token"


def client_address(event: APIGatewayProxyEvent) -> str:
    """The caller's address as API Gateway saw it ('' where an event carries none)."""
    identity = (event.raw_event.get("requestContext") or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "")


def with_path_token(headers: dict[str, str], path_token: str | None) -> dict[str, str]:
    """The seed agent's token, from its URL, where no header brings one."""
    if path_token and "authorization" not in headers and "x-agent-token" not in headers:
        headers["x-agent-token"] = path_token
    return headers


def request_from_event(event: APIGatewayProxyEvent) -> IngestRequest:
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
    headers = with_path_token(
        {name.lower(): value for name, value in (event.headers or {}).items()},
        (event.path_parameters or {}).get(SEED_PATH_PARAMETER),
    )
    return IngestRequest(
        body=body,
        headers=headers,
        received_ms=int(time.time() * 1000),
        source=client_address(event),
    )


def proxy_response(response: IngestResponse) -> dict[str, Any]:
    raw = response.raw
    if raw is not None:
        # Text goes out as text; binary (OTLP's protobuf) in base64, which API Gateway decodes
        # for an API whose binary media types are "*/*". An empty body needs neither.
        text = response.headers.get("Content-Type", "").startswith("application/json") or not raw
        return {
            "statusCode": response.status,
            "headers": response.headers,
            "body": raw.decode() if text else base64.b64encode(raw).decode(),
            "isBase64Encoded": not text,
        }
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": "application/json", **response.headers},
        "body": json.dumps(response.body),
    }


def route(path: str, service: IngestService) -> Callable[[IngestRequest], IngestResponse]:
    """Which of the service's doors a path opens (behind API Gateway or uvicorn alike)."""
    if path.endswith(SEED_PATH):
        return service.ingest_seed
    if path.endswith(SYNC_PATH):
        return service.sync
    if path.endswith(OTLP_PATH):
        return lambda request: ingest_otlp(service, request)
    if path.endswith(WRITE_PATH):
        return lambda request: ingest_remote_write(service, request)
    return service.ingest


def handle_ingest_event(event: APIGatewayProxyEvent, service: IngestService) -> dict[str, Any]:
    return proxy_response(route(event.path, service)(request_from_event(event)))
