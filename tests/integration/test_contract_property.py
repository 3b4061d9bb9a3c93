"""Property: every batch is refused with a 4xx at ingest, or lands in every tier.

Batches are generated from the published JSON Schema (``docs/wire-contract-v1.schema.json``),
half of them with one value swapped for something hostile (bounds of the columns, float
overflow, NUL, bidi overrides, wrong types). Each goes through the real ingest service, and
what it queues through the real aggregation into the real PostgreSQL: nothing may fail there
(it would end in the dead-letter queue), and every value of an accepted batch must be found
in the raw, 1-minute and 1-hour tiers.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricStore
from hostpulse.core.contract import Batch, metric_values
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.agents.tokens import register_agent
from hostpulse.services.aggregate.service import aggregate_records
from hostpulse.services.ingest.service import IngestRequest, IngestService
from tests.fakes import (
    MemoryAgents,
    MemoryArchive,
    MemoryCounters,
    MemoryHot,
    MemoryLimiter,
    MemoryQueue,
)
from tests.schema_strategy import from_schema
from tests.support import CloudUnderTest, eventually, post
from tests.tier_checks import BUCKETED, roll_up_until

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
SCHEMA = json.loads((PROJECT_ROOT / "docs" / "wire-contract-v1.schema.json").read_text())
HOSTILE: list[Any] = [
    2**31,
    2**63,
    -1,
    10**400,
    1e200,
    1e308,
    "",
    "nul\x00here",
    "bidi\u202eevil",
    "line\nbreak",
    "x" * 5000,
    None,
    True,
    [],
    {},
]


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from leaves(inner, (*path, index))
    yield path


def replace(document: Any, path: tuple[Any, ...], value: Any) -> None:
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@st.composite
def batches(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = draw(from_schema(SCHEMA))
    now = int(time.time() * 1000)
    for index, sample in enumerate(document["samples"]):
        sample["ts_ms"] = now - 1000 * index  # the time checks have their own tests
    if draw(st.booleans()):
        paths = [p for p in leaves(document) if p and p[0] != "agent_id"]
        replace(document, draw(st.sampled_from(paths)), draw(st.sampled_from(HOSTILE)))
    return document


@pytest.fixture(scope="module")
def store(local_cloud: CloudUnderTest) -> Iterator[PgMetricStore]:
    connector = PgConnector(local_cloud.endpoints["database_url"])
    yield PgMetricStore(connector)
    connector.close()


def found_in_every_tier(cloud: CloudUnderTest, batch: Batch) -> None:
    expected = {
        (metric, sample.ts_ms): value
        for sample in batch.samples
        for metric, value in metric_values(sample)
    }
    # Rolled up before this connection reads anything: a rollup late in the day makes the next
    # day's partitions, which waits for every open transaction that read the tables.
    roll_up_until(cloud.endpoints["database_url"])
    conn = psycopg2.connect(cloud.endpoints["database_url"])
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT s.metric, (extract(epoch FROM r.ts) * 1000)::bigint, r.value "
            "FROM raw_values r JOIN series s ON s.id = r.series_id WHERE s.host = %s",
            (batch.host.hostname,),
        )
        raw = {(metric, ms): value for metric, ms, value in cur.fetchall()}
        for tier in (tier.table for tier in BUCKETED.values()):
            cur.execute(
                f"SELECT count(DISTINCT s.metric), coalesce(sum(t.count), 0) FROM {tier} t "
                "JOIN series s ON s.id = t.series_id WHERE s.host = %s",
                (batch.host.hostname,),
            )
            row = cur.fetchone()
            assert row is not None
            assert tuple(row) == (len({m for m, _ in expected}), len(expected)), tier
    conn.close()
    assert raw == expected


def own_agent_and_host(document: dict[str, Any]) -> str:
    """A new agent for the batch, and a host of its own: the tiers then hold exactly it."""
    agent = f"prop-{uuid.uuid4().hex[:12]}"
    document["agent_id"] = agent
    if isinstance(document.get("host"), dict) and isinstance(document["host"].get("hostname"), str):
        document["host"]["hostname"] = f"{document['host']['hostname'][:200]}-{agent}"
    return agent


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=batches())
def test_every_batch_is_refused_or_lands_in_every_tier(
    local_cloud: CloudUnderTest, store: PgMetricStore, document: dict[str, Any]
) -> None:
    agent = own_agent_and_host(document)
    queue = MemoryQueue()
    service = IngestService(
        MemoryAgents({"hp_property": agent}, {agent: (f"*-{agent}",)}),
        MemoryLimiter(),
        queue,
        MemoryHot(),
        MemoryArchive(),
        MemoryCounters(),
    )
    body = json.dumps(document).encode()
    response = service.ingest(
        IngestRequest(body, {"authorization": "Bearer hp_property"}, int(time.time() * 1000))
    )

    event(f"answered {response.status}")
    if response.status != 202:
        assert 400 <= response.status < 500, response.body
        assert queue.messages == []
        return
    outcome = aggregate_records(
        [(f"m-{agent}", message) for message, _ in queue.messages], store, MemoryArchive()
    )
    assert outcome.failed == [], "this batch would end in the dead-letter queue"
    assert outcome.stored == 1
    found_in_every_tier(local_cloud, Batch.model_validate_json(body))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=batches())
def test_through_api_gateway_every_batch_is_refused_or_stored_and_none_dead_letters(
    local_cloud: CloudUnderTest, document: dict[str, Any]
) -> None:
    """The same property over HTTP, through API Gateway, SQS and the functions."""
    agent = own_agent_and_host(document)
    repository = PgAgentRepository(PgConnector(local_cloud.endpoints["database_url"]))
    token = register_agent(repository, agent, [f"*-{agent}"])

    response = post(
        local_cloud.endpoints["ingest_url"],
        gzip.compress(json.dumps(document).encode()),
        token,
        **{"Content-Encoding": "gzip"},
    )

    event(f"answered {response.status_code}")
    if response.status_code != 202:
        assert 400 <= response.status_code < 500, response.text
        return
    # Stored within a minute: a batch that failed aggregation would instead be retried, five
    # times a minute apart, on its way to the dead-letter queue.
    eventually(lambda: stored_batches(local_cloud, agent) == 1, timeout=60, interval=0.2)
    found_in_every_tier(local_cloud, Batch.model_validate(document))


def stored_batches(cloud: CloudUnderTest, agent: str) -> int:
    conn = psycopg2.connect(cloud.endpoints["database_url"])
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM batches WHERE agent_id = %s", (agent,))
        row = cur.fetchone()
    conn.close()
    return int(row[0]) if row else 0
