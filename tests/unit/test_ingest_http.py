"""API Gateway proxy events into ingest requests: where the credential comes from."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from hostpulse.services.ingest.http import request_from_event
from hostpulse.services.ingest.service import bearer_token


def event(headers: dict[str, str], path_parameters: dict[str, str] | None) -> APIGatewayProxyEvent:
    raw: dict[str, Any] = {
        "resource": "/seed/{token}/ingest/metrics",
        "path": "/seed/hp_path/ingest/metrics",
        "httpMethod": "POST",
        "headers": headers,
        "pathParameters": path_parameters,
        "body": "{}",
        "isBase64Encoded": False,
        "requestContext": {"identity": {"sourceIp": "203.0.113.7"}},
    }
    return APIGatewayProxyEvent(raw)


def test_the_seed_agents_path_token_is_its_credential() -> None:
    request = request_from_event(event({}, {"token": "hp_path"}))
    assert bearer_token(request.headers) == "hp_path"


def test_a_header_wins_over_a_token_in_the_path() -> None:
    request = request_from_event(event({"Authorization": "Bearer hp_header"}, {"token": "hp_path"}))
    assert bearer_token(request.headers) == "hp_header"


def test_without_either_there_is_no_credential() -> None:
    assert bearer_token(request_from_event(event({}, None)).headers) is None


def test_the_client_address_is_the_one_api_gateway_saw() -> None:
    assert request_from_event(event({}, None)).source == "203.0.113.7"
