"""LocalStack restarted in place (`hostpulse restart localstack`) while a fleet and a real agent
send: the drain holds new batches back until the queue is empty, LocalStack comes back with the
stack deployed again, PostgreSQL and Redis never stop, and every batch lands exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.contract import Batch
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.fleet import RequestsTransport, Simulation
from tests.e2e.agent_support import raw_timestamps, recording_agent
from tests.faults.fleet import register_fleet, wait_until_stored
from tests.support import CloudUnderTest, eventually, pid_alive
from tests.tier_checks import assert_stored_exactly_once

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
HOSTS = 3
BEFORE_S, AFTER_S = 15, 30


@pytest.mark.timeout(1200)
def test_a_localstack_restart_under_load_loses_nothing_and_agents_resume(
    fault_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    endpoints = fault_cloud.endpoints
    agents = register_fleet(endpoints, "lsrestart", HOSTS)
    accepted: list[Batch] = []
    simulation = Simulation(
        agents,
        endpoints["ingest_url"],
        RequestsTransport(),
        interval_s=2,
        send_every_s=4,
        duration_s=3600,  # until stopped below
        on_accepted=accepted.append,
        give_up_after_s=600,
    )
    fleet = threading.Thread(target=simulation.run)
    agent_host = f"{agents[0].host.hostname}-agent"
    token = register_agent(PgAgentRepository(PgConnector(endpoints["database_url"])), agent_host)
    agent, collected = recording_agent(agent_host, endpoints["ingest_url"], token, tmp_path)
    runner = threading.Thread(target=agent.run)
    fleet.start()
    runner.start()
    try:
        time.sleep(BEFORE_S)
        asked = time.monotonic()
        restart = fault_cloud.cli("restart", "localstack", timeout=600)
        restart_s = time.monotonic() - asked
        assert restart.returncode == 0, restart.stdout + restart.stderr
        time.sleep(AFTER_S)
    finally:
        simulation.stopping.set()
        fleet.join(timeout=700)
        # The real agent resumes by itself: its spool empties without a restart of it.
        eventually(lambda: agent.spool.pending == 0, timeout=180, interval=1)
        agent.stop()
        runner.join(timeout=60)

    stats = simulation.stats
    assert (stats.rejected, stats.given_up) == (0, 0), stats.summary()
    assert stats.retries > 0, "the fleet never noticed the restart: nothing was tested"
    assert fault_cloud.endpoints["ingest_url"] == endpoints["ingest_url"], "a stable address"

    wait_until_stored(endpoints["database_url"], agents, accepted, timeout=180)
    assert_stored_exactly_once(endpoints["database_url"], accepted)
    eventually(
        lambda: len(raw_timestamps(endpoints["database_url"], agent_host)) >= len(collected),
        timeout=120,
        interval=2,
    )
    assert raw_timestamps(endpoints["database_url"], agent_host) == sorted(collected)
    latencies = sorted(stats.latencies_ms)
    print(
        f"localstack restarted in {restart_s:.0f} s under load: {len(accepted)} batches and "
        f"{len(collected)} agent samples, 0 lost, {stats.retries} retries "
        f"({stats.summary()['failures']}); ingest latency p50 "
        f"{latencies[len(latencies) // 2]:.0f} ms, max {latencies[-1]:.0f} ms"
    )


def test_a_localstack_that_dies_is_restarted_and_ingest_accepts_again(
    fault_cloud: CloudUnderTest,
) -> None:
    endpoints = fault_cloud.endpoints
    agents = register_fleet(endpoints, "lscrash", 1)
    supervisor = endpoints["supervisor_pid"]
    killed_at = time.time()
    os.kill(fault_cloud.pid("localstack"), signal.SIGKILL)

    eventually(
        lambda: fault_cloud.endpoints.get("localstack_started_at", 0) > killed_at,
        timeout=300,
        interval=1,
    )
    assert pid_alive(supervisor), "the supervisor stayed up and restarted only LocalStack"
    accepted: list[Batch] = []
    stats = Simulation(
        agents, endpoints["ingest_url"], RequestsTransport(), interval_s=1, send_every_s=2,
        duration_s=6, on_accepted=accepted.append,
    ).run()  # fmt: skip
    assert (stats.batches, stats.given_up) == (len(accepted), 0) and accepted
    wait_until_stored(endpoints["database_url"], agents, accepted, timeout=120)
    log = (fault_cloud.state_dir / "logs" / "up.log").read_text()
    assert "restarting it (what its queues held is lost)" in log
    back_s = fault_cloud.endpoints["localstack_started_at"] - killed_at
    print(f"localstack killed: restarted and the stack deployed again {back_s:.0f} s later")
