"""The agent through a two-minute outage of the ingest endpoint: every sample lands, once."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from hostpulse.adapters.pg_agents import PgAgentRepository
from hostpulse.agents import register_agent
from hostpulse.store.postgres import PgConnector
from hostpulse_agent.config import AgentConfig
from hostpulse_agent.runner import Agent
from hostpulse_agent.sender import HttpSender
from tests.support import CloudUnderTest, TcpProxy, eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
OUTAGE_S = 120


def raw_timestamps(url: str, host: str) -> list[int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (extract(epoch FROM r.ts) * 1000)::bigint FROM samples_raw r "
            "JOIN series s ON s.id = r.series_id WHERE s.host = %s AND s.metric = 'cpu.percent' "
            "ORDER BY 1",
            (host,),
        )
        return [row[0] for row in cur.fetchall()]


def test_two_minutes_without_the_backend_lose_nothing(
    local_cloud: CloudUnderTest, tmp_path: Any
) -> None:
    endpoints = local_cloud.endpoints
    name = f"outage-{time.time_ns() % 10**8}"
    token = register_agent(PgAgentRepository(PgConnector(endpoints["database_url"])), name)
    ingest = urlsplit(endpoints["ingest_url"])
    proxy = TcpProxy(ingest.port or 80)
    proxy.start()
    config = AgentConfig(
        ingest_url=urlunsplit(ingest._replace(netloc=f"127.0.0.1:{proxy.port}")),
        token=token, agent_id=name, interval_s=1.0, send_every_s=2.0, state_dir=tmp_path,
        timeout_s=5.0, groups=frozenset({"cpu", "memory", "load"}),
    )  # fmt: skip
    agent = Agent(config, HttpSender(config))
    agent.facts["hostname"] = name  # one test host per run
    collected: list[int] = []
    sample = agent.collector.sample

    def recording(ts_ms: int, prime: bool = False) -> dict[str, Any]:
        collected.append(ts_ms)
        return sample(ts_ms, prime)

    agent.collector.sample = recording  # type: ignore[method-assign]
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
