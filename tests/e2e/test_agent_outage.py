"""The agent through a two-minute outage of the ingest endpoint: every sample lands, once."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.tokens import register_agent
from tests.e2e.agent_support import raw_timestamps, recording_agent
from tests.support import CloudUnderTest, TcpProxy, eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
OUTAGE_S = 120


def test_two_minutes_without_the_backend_lose_nothing(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    endpoints = local_cloud.endpoints
    name = f"outage-{time.time_ns() % 10**8}"
    token = register_agent(PgAgentRepository(PgConnector(endpoints["database_url"])), name)
    ingest = urlsplit(endpoints["ingest_url"])
    proxy = TcpProxy(ingest.port or 80)
    proxy.start()
    through_proxy = urlunsplit(ingest._replace(netloc=f"127.0.0.1:{proxy.port}"))
    agent, collected = recording_agent(name, through_proxy, token, tmp_path)
    runner = threading.Thread(target=agent.run)
    runner.start()
    try:
        time.sleep(10)
        proxy.stop()
        time.sleep(OUTAGE_S)
        assert agent.spool.pending >= OUTAGE_S // 2 - 2, "batches wait in the spool"
        assert agent.retried > 0
        proxy.start()
        eventually(lambda: agent.spool.pending == 0, timeout=180, interval=1)
    finally:
        agent.stop()
        runner.join(timeout=60)
        proxy.stop()

    def landed() -> list[int] | None:
        stamps = raw_timestamps(endpoints["database_url"], name)
        return stamps if len(stamps) >= len(collected) else None

    stamps = eventually(landed, timeout=120, interval=2)
    assert stamps == sorted(collected), "every sample in the raw tier, exactly once"
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps) < 2500, "no gap where the backend was away"
