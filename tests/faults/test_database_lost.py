"""The database lost whole: an empty one in its place, migrated, then `hostpulse replay archive`
rebuilds every host's raw, 1-minute and 1-hour tiers and process lists exactly as they were, and
replaying again changes nothing.

Its own local cloud: the database is dropped under the running stack."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from hostpulse.core.contract import Batch
from hostpulse.simulation.fleet import RequestsTransport, Simulation
from tests.faults.fleet import register_fleet, wait_until_stored
from tests.support import HOSTPULSE, CloudUnderTest, eventually, replace_database
from tests.tier_checks import assert_stored_exactly_once, snapshot, stored_batches

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
HOSTS = 4


@pytest.fixture(scope="module")
def cloud() -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh("database-lost")
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


def hostpulse(cloud: CloudUnderTest, *args: str, **env: str) -> tuple[int, str]:
    run = subprocess.run(
        [*HOSTPULSE, *args], env={**cloud.env, **env}, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    return run.returncode, run.stdout + run.stderr


@pytest.mark.timeout(1200)
def test_a_lost_database_is_rebuilt_from_the_archive_exactly(cloud: CloudUnderTest) -> None:
    endpoints = cloud.endpoints
    url = endpoints["database_url"]
    agents = register_fleet(endpoints, "rebuilt", HOSTS)
    hosts = [a.host.hostname for a in agents]
    accepted: list[Batch] = []
    started = time.time()
    stats = Simulation(
        agents, endpoints["ingest_url"], RequestsTransport(), interval_s=2, send_every_s=6,
        duration_s=70, on_accepted=accepted.append,
    ).run()  # fmt: skip
    assert (stats.rejected, stats.given_up) == (0, 0), stats.summary()
    wait_until_stored(url, agents, accepted, timeout=180)
    assert_stored_exactly_once(url, accepted)
    before = snapshot(url, hosts)
    assert len({bucket for _, _, bucket, *_ in before["1m"]}) >= 2, "more than one minute"

    replace_database(url)
    status, output = hostpulse(cloud, "migrate", HOSTPULSE_DATABASE_URL=url)
    assert status == 0, output
    assert not any(snapshot(url, hosts).values()), "the new database is empty"

    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 120))
    window = ("replay", "archive", "--since", since, "--until", "now")
    rebuild_started = time.monotonic()
    status, output = hostpulse(cloud, *window)
    assert status == 0 and f"sent {len(accepted)} " in output, output
    eventually(lambda: stored_batches(url, hosts) == len(accepted), timeout=300, interval=2)
    eventually(lambda: snapshot(url, hosts) == before, timeout=120, interval=2)
    rebuilt_s = time.monotonic() - rebuild_started
    assert_stored_exactly_once(url, accepted)

    # Replayed again over the rebuilt tiers: nothing changes.
    status, output = hostpulse(cloud, *window)
    assert status == 0 and f"sent {len(accepted)} " in output, output
    time.sleep(10)
    assert snapshot(url, hosts) == before
    samples = sum(len(b.samples) for b in accepted)
    print(
        f"database lost: {len(accepted)} batches ({samples} samples, {len(before['raw'])} raw "
        f"rows) rebuilt from the archive in {rebuilt_s:.0f} s, identical in every tier"
    )
