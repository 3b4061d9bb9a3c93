"""The ingest function in-process: API Gateway events in, proxy responses out."""

from __future__ import annotations

import base64
import gzip
import json
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from google.rpc.status_pb2 import Status

from functions.ingest import handler as ingest
from hostpulse.core.envelope import Envelope
from hostpulse.services.ingest.service import IngestService
from hostpulse.simulation.host import SyntheticHost
from tests.events import api_gateway_event
from tests.fakes import (
    MemoryAgents,
    MemoryArchive,
    MemoryAuthThrottle,
    MemoryCounters,
    MemoryHot,
    MemoryLimiter,
    MemoryQueue,
)
from tests.otlp_hostmetrics import CollectorHost

TOKEN = "hp_token-of-web-1"


@pytest.fixture
def queue(hand_in: Any) -> MemoryQueue:
    queue = MemoryQueue()
    hand_in(
        ingest.service,
        IngestService(
            MemoryAgents({TOKEN: "web-1"}),
            MemoryLimiter(),
            queue,
            MemoryHot(),
            MemoryArchive(),
            MemoryCounters(),
            auth_throttle=MemoryAuthThrottle(),
        ),
    )
    return queue


def batch_body() -> bytes:
    now = int(time.time() * 1000)
    batch = SyntheticHost("web-1", cores=2).batch([now - 1000, now])
    return gzip.compress(batch.model_dump_json().encode())


def post(body: bytes, context: LambdaContext, **headers: str) -> dict[str, Any]:
    event = api_gateway_event("POST", "/v1/ingest", body, headers)
    answer: dict[str, Any] = ingest.handler(event, context)
    return answer


def test_a_batch_is_accepted_and_queued(queue: MemoryQueue, context: LambdaContext) -> None:
    answer = post(
        batch_body(), context, Authorization=f"Bearer {TOKEN}", **{"Content-Encoding": "gzip"}
    )

    assert answer["statusCode"] == 202
    [(body, key)] = queue.messages
    assert Envelope.decode(body).inline is not None and key == "web-1:0"


@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        ({}, b"{}", 401, "unauthorized"),
        ({"Authorization": "Bearer hp_wrong"}, b"{}", 401, "unauthorized"),
        ({"Authorization": f"Bearer {TOKEN}"}, b"{not json", 400, "bad_json"),
        (
            {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip"},
            b"\x1f\x8b\x08garbage",
            400,
            "bad_gzip",
        ),
    ],
)
def test_refusals_are_clear_and_queue_nothing(
    queue: MemoryQueue,
    context: LambdaContext,
    headers: dict[str, str],
    body: bytes,
    status: int,
    error: str,
) -> None:
    answer = post(body, context, **headers)

    assert answer["statusCode"] == status
    assert json.loads(answer["body"])["error"] == error
    assert queue.messages == []


def test_the_seed_agent_posts_with_its_token_in_the_path(
    queue: MemoryQueue, context: LambdaContext
) -> None:
    snapshot = {"timestamp": time.time(), "total_cpu_percent": 12.5, "per_core_cpu_percent": [12.5]}
    event = api_gateway_event(
        "POST",
        f"/seed/{TOKEN}/ingest/metrics",
        json.dumps(snapshot).encode(),
        resource="/seed/{token}/ingest/metrics",
        path_parameters={"token": TOKEN},
    )

    answer = ingest.handler(event, context)

    assert answer["statusCode"] == 202
    assert len(queue.messages) == 1


def test_otlp_is_answered_in_protobuf_and_a_binary_answer_base64_encoded_for_api_gateway(
    queue: MemoryQueue, context: LambdaContext
) -> None:
    request = CollectorHost("web-1", time.time_ns() - 3600 * 10**9).request(time.time_ns())
    event = api_gateway_event(
        "POST",
        "/v1/metrics",
        gzip.compress(request.SerializeToString()),
        {
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
        },
    )

    answer = ingest.handler(event, context)

    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "application/x-protobuf"
    assert answer["body"] == ""  # an empty ExportMetricsServiceResponse: all accepted
    assert len(queue.messages) == 1
    refused = ingest.handler(
        api_gateway_event(
            "POST", "/v1/metrics", b"\xff", {"Content-Type": "application/x-protobuf"}
        ),
        context,
    )
    assert refused["statusCode"] == 401 and refused["isBase64Encoded"] is True
    status = Status()
    status.ParseFromString(base64.b64decode(refused["body"]))
    assert status.code == 16 and "token" in status.message
