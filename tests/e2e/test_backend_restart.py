"""An agent keeps running while the whole backend goes down and comes back: no gap."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from hostpulse.adapters.pg_agents import PgAgentRepository
from hostpulse.agents import register_agent
from hostpulse.store.postgres import PgConnector
from hostpulse_agent.config import AgentConfig
from hostpulse_agent.runner import Agent
from hostpulse_agent.sender import HttpSender
from tests.support import CloudUnderTest, eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]


def test_an_agent_survives_a_backend_restart_without_a_gap(tmp_path: Path) -> None:
    cloud = CloudUnderTest.fresh("backend-restart")
    cloud.up()
    try:
        before = cloud.endpoints
        token = register_agent(PgAgentRepository(PgConnector(before["database_url"])), "survivor")
        config = AgentConfig(
            ingest_url=before["ingest_url"],
            token=token,
            agent_id="survivor",
            interval_s=1.0,
            send_every_s=2.0,
            state_dir=tmp_path,
            timeout_s=5.0,
            groups=frozenset({"cpu", "memory"}),
        )
        agent = Agent(config, HttpSender(config))
        agent.facts["hostname"] = "survivor"
        collected: list[int] = []
        sample = agent.collector.sample

        def recording(ts_ms: int, prime: bool = False) -> dict[str, Any]:
            collected.append(ts_ms)
            return sample(ts_ms, prime)

        agent.collector.sample = recording  # type: ignore[method-assign]
        runner = threading.Thread(target=agent.run)
        runner.start()
        try:
            time.sleep(8)
            assert cloud.cli("down").returncode == 0
            time.sleep(15)
            cloud.up()
            assert cloud.endpoints["ingest_url"] == before["ingest_url"], "a stable address"
            eventually(lambda: agent.spool.pending == 0, timeout=120, interval=1)
        finally:
            agent.stop()
            runner.join(timeout=60)

        def landed() -> list[int] | None:
            with psycopg2.connect(cloud.endpoints["database_url"]) as conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT (extract(epoch FROM r.ts) * 1000)::bigint FROM samples_raw r "
                    "JOIN series s ON s.id = r.series_id "
                    "WHERE s.host = 'survivor' AND s.metric = 'cpu.percent' ORDER BY 1"
                )
                stamps = [row[0] for row in cur.fetchall()]
            return stamps if len(stamps) >= len(collected) else None

        assert eventually(landed, timeout=120, interval=2) == sorted(collected)
    finally:
        cloud.down()
