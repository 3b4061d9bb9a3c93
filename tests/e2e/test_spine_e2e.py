"""20 simulated hosts for 2 minutes: exactly once, tiers that add up, replays change nothing."""

from __future__ import annotations

import time
from typing import Any

import psycopg2
import pytest

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.contract import Batch
from hostpulse.core.envelope import Envelope
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.fleet import RequestsTransport, SimulatedAgent, Simulation
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, eventually
from tests.tier_checks import assert_tiers_add_up, sent_raw, snapshot

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
HOSTS = 20
DURATION_S = 120


def queue_drained(sqs: Any, url: str) -> bool:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(v) == 0 for v in attributes.values())


def wait_drained(sqs: Any, url: str) -> None:
    calm = 0
    deadline = time.monotonic() + 300
    while calm < 3 and time.monotonic() < deadline:
        calm = calm + 1 if queue_drained(sqs, url) else 0
        time.sleep(1)
    assert calm >= 3, "the aggregate queue did not drain"


def test_twenty_hosts_for_two_minutes_exactly_once(local_cloud: CloudUnderTest) -> None:
    endpoints = local_cloud.endpoints
    repository = PgAgentRepository(PgConnector(endpoints["database_url"]))
    run = f"e2e{time.time_ns() % 10**8}"
    agents = [
        SimulatedAgent(SyntheticHost(f"{run}-{i:02d}", cores=4, seed=i), "") for i in range(HOSTS)
    ]
    for agent in agents:
        agent.token = register_agent(repository, agent.host.hostname)
    hosts = [a.host.hostname for a in agents]
    accepted: list[Batch] = []

    stats = Simulation(
        agents,
        endpoints["ingest_url"],
        RequestsTransport(),
        interval_s=5,
        send_every_s=10,
        duration_s=DURATION_S,
        on_accepted=accepted.append,
    ).run()

    assert stats.rejected == 0
    assert stats.samples == sum(len(b.samples) for b in accepted) >= HOSTS * DURATION_S // 5
    expected_raw = sent_raw(accepted)

    def stored_batches() -> bool:
        with psycopg2.connect(endpoints["database_url"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM batches WHERE agent_id = ANY(%s)", (hosts,))
            return bool(cur.fetchone() == (len(accepted),))

    eventually(stored_batches, timeout=180, interval=2)
    before = snapshot(endpoints["database_url"], hosts)

    # Every sample is in raw exactly once, with its value.
    assert before["raw"] == expected_raw
    # Every coarser tier is what the raw rows add up to.
    assert_tiers_add_up(before)
    assert len(before["processes"]) == sum(len(s.processes) for b in accepted for s in b.samples)

    # Agents resend every batch, and SQS delivers every message again.
    replay = Simulation(agents, endpoints["ingest_url"], RequestsTransport(), 5, 10, 0)
    for agent in agents:
        for batch in (b for b in accepted if b.agent_id == agent.host.hostname):
            replay._send(agent, batch)
    assert replay.stats.batches == len(accepted)
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    for batch in accepted:
        sqs.send_message(
            QueueUrl=endpoints["queues"]["aggregate"],
            MessageBody=Envelope(inline=batch.model_dump_json().encode()).encode(),
        )
    wait_drained(sqs, endpoints["queues"]["aggregate"])

    assert snapshot(endpoints["database_url"], hosts) == before
