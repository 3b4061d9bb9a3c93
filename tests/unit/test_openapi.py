"""The OpenAPI description says what every route answers, so fuzzing can hold it to that."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from schemathesis.openapi.checks import JsonSchemaError

from tests.openapi import DESCRIPTION, SCHEMA


def test_every_route_declares_a_schema_for_each_answer_with_a_body() -> None:
    undeclared = [
        f"{method.upper()} {path} {status}"
        for path, operations in DESCRIPTION["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status != "204"
        and not any(content.get("schema") for content in answer.get("content", {}).values())
    ]
    assert undeclared == []


HOST = {
    "host": "web-1",
    "agent_id": "web-1",
    "status": "live",
    "last_seen_ms": 1,
    "first_seen_ms": 1,
    "last_received_ms": 1,
    "completeness": None,
    "facts": {},
    "now": None,
}


@pytest.mark.parametrize(
    "body",
    [
        {"hosts": "web-1"},
        {"hosts": [{"host": "web-1"}]},
        {"hosts": None},
        {"hosts": [HOST | {"status": "sleepy"}]},
        {"hosts": [HOST | {"last_seen_ms": "yesterday"}]},
    ],
)
def test_an_answer_that_differs_from_its_declaration_is_caught(body: object) -> None:
    with pytest.raises(JsonSchemaError):
        SCHEMA["/api/v1/hosts"]["GET"].validate_response(answered(body))


def test_a_declared_answer_passes() -> None:
    assert SCHEMA["/api/v1/hosts"]["GET"].validate_response(answered({"hosts": [HOST]})) in (
        None,
        True,
    )


def answered(body: object) -> httpx.Response:
    request = httpx.Request("GET", "http://api.test/api/v1/hosts")
    response = httpx.Response(200, json=body, request=request)
    response.elapsed = timedelta(milliseconds=1)
    return response
