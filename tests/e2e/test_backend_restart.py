"""An agent keeps running while the whole backend goes down and comes back: no gap."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.tokens import register_agent
from tests.e2e.agent_support import raw_timestamps, recording_agent
from tests.support import CloudUnderTest, eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]


def test_an_agent_survives_a_backend_restart_without_a_gap(tmp_path: Path) -> None:
    cloud = CloudUnderTest.fresh("backend-restart")
    cloud.up()
    try:
        before = cloud.endpoints
        token = register_agent(PgAgentRepository(PgConnector(before["database_url"])), "survivor")
        agent, collected = recording_agent("survivor", before["ingest_url"], token, tmp_path)
        runner = threading.Thread(target=agent.run)
        runner.start()
        try:
            time.sleep(8)
            down_at = time.time() * 1000
            assert cloud.cli("down").returncode == 0
            time.sleep(15)
            cloud.up()
            assert cloud.endpoints["ingest_url"] == before["ingest_url"], "a stable address"
            eventually(lambda: agent.spool.pending == 0, timeout=120, interval=1)
        finally:
            agent.stop()
            runner.join(timeout=60)

        def landed() -> bool:
            stamps = raw_timestamps(cloud.endpoints["database_url"], "survivor")
            return len(stamps) >= len(collected)

        with contextlib.suppress(AssertionError):
            eventually(landed, timeout=120, interval=2)
        stamps = raw_timestamps(cloud.endpoints["database_url"], "survivor")
        missing = [round((ts - down_at) / 1000, 1) for ts in sorted(set(collected) - set(stamps))]
        assert not missing, f"samples lost, in seconds from `down`: {missing}"
        assert stamps == sorted(collected), "every sample exactly once"
    finally:
        cloud.down()
