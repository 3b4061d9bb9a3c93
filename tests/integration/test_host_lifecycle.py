"""Hosts that come and go, on the real local cloud: an agent's host retired through the API
leaves the fleet and the hot tier and comes back when it sends again; forgotten, nothing of it
is left in any tier or in Redis; the CLI does the same. Then, on a database and a Redis
database of their own: the schedule retires hosts down too long, and 500 short-lived hosts
leave Redis as it was."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
import redis
import requests

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricStore
from hostpulse.adapters.postgres.migrate import migrate
from hostpulse.adapters.redis import keys as hot
from hostpulse.adapters.redis.hot import RedisHotStore
from hostpulse.core.settings import CoreSettings
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring.components import fleet_lifecycle_for
from tests.integration.test_alerts_api import admin_token
from tests.support import (
    CloudUnderTest,
    eventually,
    per_worker,
    post_batch,
    registered_agent,
    replace_database,
)

pytestmark = pytest.mark.localcloud
DAY_MS = 86_400_000


def fleet(cloud: CloudUnderTest, **params: Any) -> dict[str, Any]:
    api = cloud.endpoints["local_api_url"]
    answer: dict[str, Any] = requests.get(f"{api}/api/v1/hosts", params=params, timeout=30).json()
    return answer


def listed(cloud: CloudUnderTest, host: str, **params: Any) -> bool:
    return any(h["host"] == host for h in fleet(cloud, **params)["hosts"])


def send(cloud: CloudUnderTest, host: SyntheticHost, token: str) -> None:
    now_ms = int(time.time() * 1000)
    assert post_batch(cloud, host.batch([now_ms - 1000, now_ms]), token).status_code == 202


def stored_rows(cloud: CloudUnderTest, host: str) -> dict[str, int]:
    with psycopg2.connect(cloud.endpoints["database_url"]) as conn, conn.cursor() as cur:
        counts = {}
        for table in ("hosts", "series", "samples_raw", "batches"):
            cur.execute(f"SELECT count(*) FROM {table} WHERE host = %s", (host,))
            (counts[table],) = cur.fetchone() or (0,)
    return counts


def hot_keys(cloud: CloudUnderTest, host: str) -> list[str]:
    client = redis.Redis.from_url(cloud.endpoints["redis_url"])
    found = [key for key in (hot.window_key(host), hot.latest_key(host)) if client.exists(key)]
    found += [name for name in (hot.HOSTS,) if client.zscore(name, host) is not None]
    found += [name for name in (hot.FACTS, hot.GLANCE) if client.hexists(name, host)]
    return found


def test_a_retired_host_leaves_the_fleet_and_comes_back_when_it_sends(
    local_cloud: CloudUnderTest,
) -> None:
    api = local_cloud.endpoints["local_api_url"]
    name, token = registered_agent(local_cloud, "retiring")
    host = SyntheticHost(name, cores=2)
    send(local_cloud, host, token)
    eventually(lambda: stored_rows(local_cloud, name)["samples_raw"] > 0, timeout=60)
    operator = {"Authorization": f"Bearer {admin_token(local_cloud)}"}

    retired = requests.post(f"{api}/api/v1/hosts/{name}/retire", headers=operator, timeout=30)
    anonymous = requests.post(f"{api}/api/v1/hosts/{name}/retire", timeout=30)
    unknown = requests.post(f"{api}/api/v1/hosts/nobody-{name}/retire", headers=operator,
                            timeout=30)  # fmt: skip

    assert retired.status_code == 200, retired.text
    assert retired.json()["retired_by"] == "the admin token"
    assert (anonymous.status_code, unknown.status_code) == (401, 404)
    assert not listed(local_cloud, name)
    assert fleet(local_cloud)["retired"] >= 1
    assert listed(local_cloud, name, retired="true")
    assert hot_keys(local_cloud, name) == []
    assert stored_rows(local_cloud, name)["samples_raw"] > 0  # its history is kept

    send(local_cloud, host, token)  # it sends again: back, first from ingest's hot tier
    eventually(lambda: listed(local_cloud, name), timeout=30)
    eventually(lambda: not listed(local_cloud, name, retired="true"), timeout=60)

    forgot = requests.delete(f"{api}/api/v1/hosts/{name}", headers=operator, timeout=30)
    again = requests.delete(f"{api}/api/v1/hosts/{name}", headers=operator, timeout=30)

    assert (forgot.status_code, again.status_code) == (204, 404)
    assert stored_rows(local_cloud, name) == {"hosts": 0, "series": 0, "samples_raw": 0,
                                              "batches": 0}  # fmt: skip
    assert hot_keys(local_cloud, name) == []
    promql = requests.get(f"{api}/prometheus/api/v1/query", timeout=30,
                          params={"query": f'hostpulse_cpu_percent{{host="{name}"}}'})  # fmt: skip
    assert promql.json()["data"]["result"] == []


def test_the_cli_lists_retires_and_forgets_hosts(local_cloud: CloudUnderTest) -> None:
    name, token = registered_agent(local_cloud, "cli-host")
    send(local_cloud, SyntheticHost(name, cores=1), token)
    eventually(lambda: stored_rows(local_cloud, name)["hosts"] == 1, timeout=60)

    retired = local_cloud.cli("hosts", "retire", name.upper())
    listing = local_cloud.cli("hosts", "list", "--retired")
    refused = local_cloud.cli("hosts", "forget", name)  # without --yes
    forgotten = local_cloud.cli("hosts", "forget", name, "--yes")
    missing = local_cloud.cli("hosts", "retire", name)

    assert retired.returncode == 0 and f"{name} retired" in retired.stdout, retired.stdout
    assert f'"host": "{name}"' in listing.stdout and "(cli)" in listing.stdout
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert forgotten.returncode == 0 and f"{name} forgotten" in forgotten.stdout
    assert missing.returncode == 1 and f"no host {name}" in missing.stdout


@pytest.fixture(scope="module")
def own_stores(local_cloud: CloudUnderTest) -> Iterator[CoreSettings]:
    """A database and a Redis database of these tests' own: the schedule they run retires and
    sweeps everything old enough, which on the shared ones would take other tests' hosts. Made
    once: the components keep their connections by URL, and a database dropped under them
    would fail their next transaction."""
    server = local_cloud.endpoints["database_url"].rsplit("/", 1)[0]
    database = f"{server}/{per_worker('host_lifecycle')}"
    replace_database(database)
    migrate(database)
    redis_url = local_cloud.endpoints["redis_url"].rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(redis_url).flushdb()
    yield CoreSettings(database_url=database, redis_url=redis_url)
    redis.Redis.from_url(redis_url).flushdb()
    replace_database(database, create=False)


def redis_footprint(client: redis.Redis) -> tuple[int, int]:
    """The Redis database's keys, and the bytes they take (MEMORY USAGE)."""
    keys = list(client.scan_iter(count=1000))
    return len(keys), sum(client.memory_usage(key) or 0 for key in keys)  # type: ignore[misc]


def test_five_hundred_short_lived_hosts_leave_redis_as_it_was(own_stores: CoreSettings) -> None:
    client = redis.Redis.from_url(own_stores.redis_url)
    client.flushdb()
    writer = RedisHotStore(client, 300_000, 600_000)  # ingest's writer, as ingest sets it up
    lasting = SyntheticHost("lasting", cores=2)
    now_ms = int(time.time() * 1000)
    writer.write(lasting.batch([now_ms - 1000, now_ms]), now_ms)
    start_keys, start_bytes = redis_footprint(client)
    hour_ago = now_ms - 3_600_000
    for i in range(500):  # each sent for a little while, an hour ago
        host = SyntheticHost(f"short-{i:03d}-{uuid.uuid4().hex[:4]}", cores=2)
        writer.write(host.batch([hour_ago + 5_000 * j for j in range(4)]), hour_ago + 20_000)
    full_keys, full_bytes = redis_footprint(client)

    tidied = fleet_lifecycle_for(own_stores).tidy(now_ms)

    end_keys, end_bytes = redis_footprint(client)
    print(
        f"redis keys {start_keys} -> {full_keys} -> {end_keys}; "
        f"bytes {start_bytes} -> {full_bytes} -> {end_bytes}"
    )
    assert full_keys > start_keys + 500 and full_bytes > 10 * start_bytes
    assert tidied.swept == 500
    assert end_keys == start_keys
    # Given back but for Redis' own encoding: a hash that once held 500 entries keeps its
    # table form (larger than the compact one) when emptied again.
    assert end_bytes - start_bytes <= 0.02 * (full_bytes - start_bytes)
    assert client.zrange(hot.HOSTS, 0, -1) == [b"lasting"]


def test_the_schedule_retires_a_host_down_for_longer_than_the_setting(
    own_stores: CoreSettings,
) -> None:
    connector = PgConnector(own_stores.database_url)
    try:
        now_ms = int(time.time() * 1000)
        store = PgMetricStore(connector)
        for name, ago_ms in (("down-8d", 8 * DAY_MS), ("down-1h", 3_600_000)):
            batch = SyntheticHost(name, cores=1).batch([now_ms - ago_ms])
            store.write_batches([batch])
        lifecycle = fleet_lifecycle_for(own_stores)

        tidied = lifecycle.tidy(now_ms)

        assert tidied.retired == ["down-8d"]
        known = lifecycle.registry.known("down-8d")
        assert known is not None and known.retired_by == "its silence"
        recent = lifecycle.registry.known("down-1h")
        assert recent is not None and recent.retired_ms is None
        # A batch of it that was held up, older than its retirement, does not bring it back.
        store.write_batches([SyntheticHost("down-8d", cores=1).batch([now_ms - 7 * DAY_MS])])
        assert lifecycle.registry.known("down-8d").retired_ms is not None  # type: ignore[union-attr]
    finally:
        connector.close()
