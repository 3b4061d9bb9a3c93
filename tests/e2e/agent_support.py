"""An in-process agent that remembers every sample it collected, and what the raw tier holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg2

from hostpulse_agent.config import AgentConfig
from hostpulse_agent.runner import Agent
from hostpulse_agent.sender import HttpSender

RAW_CPU = """
SELECT (extract(epoch FROM r.ts) * 1000)::bigint FROM raw_values r
JOIN series s ON s.id = r.series_id WHERE s.host = %s AND s.metric = 'cpu.percent' ORDER BY 1
"""


def recording_agent(
    name: str, ingest_url: str, token: str, state_dir: Path
) -> tuple[Agent, list[int]]:
    """An agent sampling every second, sending every 2 s, reporting as host ``name``."""
    config = AgentConfig(
        ingest_url=ingest_url,
        token=token,
        agent_id=name,
        hostname=name,
        interval_s=1.0,
        send_every_s=2.0,
        state_dir=state_dir,
        timeout_s=5.0,
        groups=frozenset({"cpu", "memory", "load"}),
    )
    agent = Agent(config, HttpSender(config))
    collected: list[int] = []
    sample = agent.collector.sample

    def recording(ts_ms: int, prime: bool = False) -> dict[str, Any]:
        collected.append(ts_ms)
        return sample(ts_ms, prime)

    agent.collector.sample = recording  # type: ignore[method-assign]
    return agent, collected


def raw_timestamps(database_url: str, host: str) -> list[int]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(RAW_CPU, (host,))
        return [row[0] for row in cur.fetchall()]
