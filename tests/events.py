"""Lambda events for tests: JSON fixtures plus small builders."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "fixtures" / "events"


@cache
def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def sqs_event(*bodies: str) -> tuple[dict[str, Any], list[str]]:
    """An SQS trigger event with one record per body, and the records' message ids."""
    records = []
    for body in bodies:
        record = copy.deepcopy(_fixture("sqs_record.json"))
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        records.append(record)
    return {"Records": records}, [r["messageId"] for r in records]


def api_gateway_event(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API Gateway proxy event; a body that is not UTF-8 text goes base64, as API
    Gateway sends binary media types."""
    event = copy.deepcopy(_fixture("api_gateway_proxy.json"))
    event.update(
        httpMethod=method,
        path=path,
        resource=resource or path,
        pathParameters=path_parameters,
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
    )
    event["headers"] = {**event["headers"], **(headers or {})}
    event["requestContext"].update(httpMethod=method, resourcePath=event["resource"])
    if body is not None:
        try:
            event["body"] = body.decode()
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def scheduled_event() -> dict[str, Any]:
    return copy.deepcopy(_fixture("scheduled.json"))
