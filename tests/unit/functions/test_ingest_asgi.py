"""Ingest as an ASGI service (what Kubernetes runs under uvicorn): the same answers as the
function behind API Gateway, a body bound read as it streams in, counts at /metrics."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from functions.ingest import asgi
from hostpulse.services.ingest.service import IngestLimits, IngestService
from hostpulse.simulation.host import SyntheticHost
from tests.fakes import (
    MemoryAgents,
    MemoryArchive,
    MemoryHot,
    MemoryLimiter,
    MemoryQueue,
)
from tests.otlp_hostmetrics import CollectorHost, as_json
from tests.unit.test_contract_bounds import SEED_SNAPSHOT

TOKEN = "hp_token-of-web-1"


@pytest.fixture
def queue(hand_in: Any) -> Iterator[MemoryQueue]:
    queue = MemoryQueue()
    service = IngestService(
        MemoryAgents({TOKEN: "web-1"}), MemoryLimiter(), queue, MemoryHot(), MemoryArchive(),
        asgi.counters, IngestLimits(max_body_bytes=64 * 1024),
    )  # fmt: skip
    hand_in(asgi.service, service)
    yield queue


def body(seq: int = 0) -> bytes:
    batch = SyntheticHost("web-1", cores=2).batch([int(time.time() * 1000)])
    return gzip.compress(batch.model_copy(update={"seq": seq}).model_dump_json().encode())


def test_a_batch_is_accepted_and_queued_as_through_api_gateway(queue: MemoryQueue) -> None:
    client = TestClient(asgi.app)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip"}

    answer = client.post("/v1/ingest", content=body(), headers=headers)
    refused = client.post("/v1/ingest", content=body(1), headers={"Content-Encoding": "gzip"})

    assert answer.status_code == 202 and answer.json()["accepted_seq"] == 0
    assert len(queue.messages) == 1
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    scraped = client.get("/metrics").text
    assert 'hostpulse_ingest_events_total{name="batches_accepted"}' in scraped
    assert 'hostpulse_ingest_events_total{name="rejected_401"}' in scraped


def test_the_seed_agents_token_travels_in_its_url(queue: MemoryQueue) -> None:
    snapshot = {**SEED_SNAPSHOT, "timestamp": time.time()}

    answer = TestClient(asgi.app).post(f"/seed/{TOKEN}/ingest/metrics", json=snapshot)

    assert answer.status_code == 202, answer.text
    assert len(queue.messages) == 1


def test_a_body_past_the_bound_is_refused_with_no_length_announced(queue: MemoryQueue) -> None:
    def endless() -> Iterator[bytes]:  # chunked: no Content-Length to check up front
        for _ in range(64):
            yield b"x" * 65_536

    answer = TestClient(asgi.app).post(
        "/v1/ingest", content=endless(), headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert answer.status_code == 413 and answer.json()["error"] == "too_large"
    assert queue.messages == []


def test_probes_answer(queue: MemoryQueue) -> None:
    client = TestClient(asgi.app)

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_otlp_json_is_answered_in_json_under_uvicorn(queue: MemoryQueue) -> None:
    request = CollectorHost("web-1", time.time_ns() - 3600 * 10**9).request(time.time_ns())
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    answer = TestClient(asgi.app).post("/v1/metrics", content=as_json(request), headers=headers)
    refused = TestClient(asgi.app).post("/v1/metrics", content=b"{", headers=headers)

    assert answer.status_code == 200 and answer.json() == {}
    assert answer.headers["content-type"] == "application/json"
    assert len(queue.messages) == 1
    assert refused.status_code == 400 and refused.json()["code"] == 3
