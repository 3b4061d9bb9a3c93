"""The aggregate function's process killed again and again while a fleet sends: every batch is
redelivered until stored, and the tiers are exactly what the accepted batches add up to, as
after a clean run. Nothing reaches the dead-letter queue."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psycopg2
import pytest
import requests

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.agents import register_agent
from hostpulse.contract import Batch, metric_values
from hostpulse.synthetic_fleet import RequestsTransport, SimulatedAgent, Simulation
from hostpulse.synthetic_host import SyntheticHost
from tests.support import CloudUnderTest, eventually
from tests.tier_checks import assert_tier_matches, independent_rollup, snapshot

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
HOSTS = 5
DURATION_S = 40


def function_processes(function: str) -> list[int]:
    """The runtime processes the local cloud's Lambda executor runs for a function."""
    wanted = f"AWS_LAMBDA_FUNCTION_NAME={function}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours to read
    return found


class Killer(threading.Thread):
    """SIGKILLs the function's processes every ``every_s`` until stopped."""

    def __init__(self, function: str, every_s: float) -> None:
        super().__init__(daemon=True)
        self.function, self.every_s = function, every_s
        self.stopping = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self.stopping.wait(self.every_s):
            for pid in function_processes(self.function):
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.kills += 1
                except ProcessLookupError:
                    pass


def test_aggregation_killed_mid_batch_loses_and_doubles_nothing(
    fault_cloud: CloudUnderTest,
) -> None:
    endpoints = fault_cloud.endpoints
    repository = PgAgentRepository(PgConnector(endpoints["database_url"]))
    run = f"killed{time.time_ns() % 10**6}"
    agents = [
        SimulatedAgent(SyntheticHost(f"{run}-{i}", cores=2, seed=i), "") for i in range(HOSTS)
    ]
    for agent in agents:
        agent.token = register_agent(repository, agent.host.hostname)
    hosts = [a.host.hostname for a in agents]
    accepted: list[Batch] = []

    # Kills for the first 30 s of 40; each message gets 5 receives, 5 s apart, before it would
    # be dead-lettered: the test also shows none was.
    killer = Killer("hostpulse-aggregate", every_s=4)
    killer.start()
    threading.Timer(30, killer.stopping.set).start()
    try:
        stats = Simulation(
            agents,
            endpoints["ingest_url"],
            RequestsTransport(),
            interval_s=1,
            send_every_s=2,
            duration_s=DURATION_S,
            on_accepted=accepted.append,
        ).run()
    finally:
        killer.stopping.set()
        killer.join()
    recovery_started = time.monotonic()

    assert stats.rejected == 0
    assert killer.kills >= 3, "the aggregate function was running and was killed"

    def all_stored() -> bool:
        with psycopg2.connect(endpoints["database_url"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM batches WHERE agent_id = ANY(%s)", (hosts,))
            return cur.fetchone() == (len(accepted),)

    eventually(all_stored, timeout=240, interval=2)
    recovered_s = time.monotonic() - recovery_started

    stored = snapshot(endpoints["database_url"], hosts)
    expected_raw = sorted(
        (b.host.hostname, metric, sample.ts_ms, value)
        for b in accepted for sample in b.samples for metric, value in metric_values(sample)
    )  # fmt: skip
    assert stored["raw"] == expected_raw
    assert_tier_matches(stored["1m"], independent_rollup(stored["raw"], 60_000))
    assert_tier_matches(stored["1h"], independent_rollup(stored["raw"], 3_600_000))
    pipeline = requests.get(f"{endpoints['local_api_url']}/api/v1/pipeline", timeout=30).json()
    assert pipeline["queues"]["aggregate"]["dead_letters"] == 0
    print(
        f"aggregate killed {killer.kills} times: {len(accepted)} batches, "
        f"{stats.samples} samples, 0 lost; all stored {recovered_s:.0f} s after the last send"
    )
