"""Redis frozen (SIGSTOP: it answers nothing, like a host gone from the network) for 2 minutes
while a fleet sends: ingest answers 202 throughout, every batch reaches every tier, and the live
view (the hot tier) fills again by itself once Redis is back."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import redis

from hostpulse.adapters.redis import keys as hot
from hostpulse.core.contract import Batch
from hostpulse.simulation.fleet import RequestsTransport, Simulation
from tests.faults.fleet import register_fleet, wait_until_stored
from tests.support import CloudUnderTest
from tests.tier_checks import assert_stored_exactly_once

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
HOSTS = 3
BEFORE_S, AWAY_S, AFTER_S = 10, 120, 25


def test_ingest_goes_on_without_redis_and_the_live_view_recovers(
    fault_cloud: CloudUnderTest,
) -> None:
    endpoints = fault_cloud.endpoints
    agents = register_fleet(endpoints, "noredis", HOSTS)
    hosts = [a.host.hostname for a in agents]
    accepted: list[Batch] = []
    redis_pid = fault_cloud.pid("redis")
    back_at: list[float] = []

    def freeze() -> None:
        os.kill(redis_pid, signal.SIGSTOP)

    def thaw() -> None:
        os.kill(redis_pid, signal.SIGCONT)
        back_at.append(time.time() * 1000)

    threading.Timer(BEFORE_S, freeze).start()
    thaw_timer = threading.Timer(BEFORE_S + AWAY_S, thaw)
    thaw_timer.start()
    try:
        stats = Simulation(
            agents,
            endpoints["ingest_url"],
            RequestsTransport(),
            interval_s=2,
            send_every_s=4,
            duration_s=BEFORE_S + AWAY_S + AFTER_S,
            on_accepted=accepted.append,
        ).run()
    finally:
        thaw_timer.join()

    # Every batch was answered 202 on its first try, Redis or not.
    assert (stats.rejected, stats.retries, stats.failures) == (0, 0, {})
    latencies = sorted(stats.latencies_ms)

    wait_until_stored(endpoints["database_url"], agents, accepted, timeout=120)
    assert_stored_exactly_once(endpoints["database_url"], accepted)

    # The hot tier holds samples sent after Redis came back: the live view is live again.
    live = redis.Redis.from_url(endpoints["redis_url"])
    newest = {host: live.zscore(hot.HOSTS, host) for host in hosts}
    assert all(score is not None and score > back_at[0] for score in newest.values()), newest
    print(
        f"redis away {AWAY_S} s: {len(accepted)} batches all 202, 0 lost; ingest latency "
        f"p50 {latencies[len(latencies) // 2]:.0f} ms, max {latencies[-1]:.0f} ms"
    )
