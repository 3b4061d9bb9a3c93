"""PostgreSQL stopped for 5 minutes under a sending fleet, then started: nothing is lost, nothing
is dead-lettered, and the tiers catch up with ingest by themselves.

The shipped stack (aggregate queue: 60 s visibility, 10 receives) on a local cloud of its own
whose PostgreSQL is an external server the test stops and starts, as an operator restarting
RDS would; the local cloud keeps running meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hostpulse.core.contract import Batch
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.postgres import EmbeddedPostgres
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.simulation.fleet import RequestsTransport, Simulation
from tests.faults.fleet import register_fleet, wait_until_stored
from tests.support import CloudUnderTest, eventually, free_port
from tests.tier_checks import assert_stored_exactly_once

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
HOSTS = 3
BEFORE_S, AWAY_S, AFTER_S = 20, 300, 30


@pytest.fixture(scope="module")
def database() -> Iterator[EmbeddedPostgres]:
    paths = StatePaths(PROJECT_ROOT / ".hostpulse" / "tests" / "fault-postgres-server")
    paths.create()
    server = EmbeddedPostgres(paths, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cloud(database: EmbeddedPostgres) -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh("fault-postgres")
    cloud.env["HOSTPULSE_DATABASE_URL"] = database.url
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


def pipeline(cloud: CloudUnderTest) -> dict[str, Any]:
    answer = requests.get(f"{cloud.endpoints['local_api_url']}/api/v1/pipeline", timeout=60)
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.timeout(1500)  # five minutes away, then the catching up
def test_five_minutes_without_postgres_lose_nothing(
    cloud: CloudUnderTest, database: EmbeddedPostgres
) -> None:
    endpoints = cloud.endpoints
    agents = register_fleet(endpoints, "nopg", HOSTS)
    accepted: list[Batch] = []
    back: list[float] = []

    def restart() -> None:
        database.start()
        back.append(time.monotonic())

    threading.Timer(BEFORE_S, database.stop).start()
    restarter = threading.Timer(BEFORE_S + AWAY_S, restart)
    restarter.start()
    try:
        stats = Simulation(
            agents,
            endpoints["ingest_url"],
            RequestsTransport(),
            interval_s=5,
            send_every_s=10,
            duration_s=BEFORE_S + AWAY_S + AFTER_S,
            on_accepted=accepted.append,
            give_up_after_s=AWAY_S + 120,  # a real agent spools and never gives up
        ).run()
    finally:
        restarter.join()
    assert stats.rejected == 0

    wait_until_stored(endpoints["database_url"], agents, accepted, timeout=300)
    caught_up = eventually(
        lambda: (
            (a := pipeline(cloud))["aggregate_lag_s"] is not None
            and a["aggregate_lag_s"] < a["lag_bound_s"]
            and a
        ),
        timeout=300,
        interval=2,
    )
    caught_up_s = time.monotonic() - back[0]

    assert_stored_exactly_once(endpoints["database_url"], accepted)
    assert caught_up["queues"]["aggregate"]["dead_letters"] == 0
    assert caught_up["queues"]["alerts"]["dead_letters"] == 0
    print(
        f"postgres away {AWAY_S} s: {len(accepted)} batches, {stats.samples} samples, 0 lost, "
        f"0 dead-lettered; {stats.retries} agent retries; tiers caught up {caught_up_s:.0f} s "
        f"after PostgreSQL was back"
    )
