"""The boundaries of the security model, attacked through the real local cloud."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Callable

import psycopg2
import pytest
import redis
import requests

from hostpulse.adapters.redis import keys as hot
from hostpulse.adapters.redis.hot import RedisAuthThrottle
from hostpulse.services.agents.tokens import token_hash
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, eventually, post_batch

pytestmark = pytest.mark.localcloud
NewAgent = Callable[[str], tuple[str, str]]


def owner_of(cloud: CloudUnderTest, host: str) -> str | None:
    conn = psycopg2.connect(cloud.endpoints["database_url"])
    with conn, conn.cursor() as cur:
        cur.execute("SELECT agent_id FROM hosts WHERE host = %s", (host,))
        row = cur.fetchone()
    conn.close()
    return None if row is None else str(row[0])


def test_another_agents_token_cannot_take_a_host_over(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    victim, victim_token = new_agent("victim")
    attacker, attacker_token = new_agent("attacker")
    now = int(time.time() * 1000)
    assert post_batch(local_cloud, SyntheticHost(victim).batch([now - 1000]), victim_token).ok
    eventually(lambda: owner_of(local_cloud, victim) == victim, timeout=60)

    forged = SyntheticHost(victim, agent_id=attacker).batch([now - 500, now])
    response = post_batch(local_cloud, forged, attacker_token)

    assert response.status_code == 403
    assert response.json()["error"] == "host_not_allowed"
    time.sleep(2)  # what a 202 would have queued has had time to land
    assert owner_of(local_cloud, victim) == victim
    series = requests.get(
        f"{local_cloud.endpoints['local_api_url']}/api/v1/series",
        params={"host": victim, "metric": "load.1", "from": "-1h"},
        timeout=30,
    )
    assert series.status_code == 200
    (points,) = [s["points"] for s in series.json()["series"]]
    assert len(points) == 1


def test_the_seed_agent_sends_with_its_credential_in_the_backend_url(
    local_cloud: CloudUnderTest,
) -> None:
    name = f"seedagent-{time.time_ns() % 10**8}"
    added = local_cloud.cli("agents", "add", name, "--seed")
    assert added.returncode == 0, added.stdout
    (line,) = [x for x in added.stdout.splitlines() if "backend_url" in x]
    backend_url = line.split("backend_url: ", 1)[1].strip()
    assert backend_url.startswith(local_cloud.endpoints["api_url"])
    snapshot = {
        "timestamp": time.time(),
        "total_cpu_percent": 42.0,
        "per_core_cpu_percent": [40.0, 44.0],
        "top_processes": [{"pid": 1, "name": "init", "cpu_percent": 0.1, "memory_mb": 5}],
    }

    # Exactly what the seed agent sends: JSON to {backend_url}/ingest/metrics, no header.
    sent = requests.post(f"{backend_url}/ingest/metrics", json=snapshot, timeout=60)
    forged = requests.post(
        f"{backend_url.rsplit('/', 1)[0]}/hp_not-a-token/ingest/metrics", json=snapshot, timeout=60
    )

    assert sent.status_code == 202, sent.text
    assert forged.status_code == 401
    eventually(lambda: owner_of(local_cloud, name) == name, timeout=60)


def test_failed_token_lookups_are_counted_per_address_in_redis(
    local_cloud: CloudUnderTest,
) -> None:
    client = redis.Redis.from_url(local_cloud.endpoints["redis_url"])
    throttle = RedisAuthThrottle(client, limit=3, window_s=60)
    guesser, bystander = f"198.51.100.{time.time_ns() % 250}", f"bystander-{time.time_ns()}"

    before = [throttle.blocked_for(guesser)]
    for _ in range(3):
        throttle.failed(guesser)

    assert before == [0.0]
    assert 0 < throttle.blocked_for(guesser) <= 60
    assert throttle.blocked_for(bystander) == 0.0
    assert 0 < client.ttl(hot.auth_failures_key(guesser)) <= 60  # type: ignore[operator]


def test_a_websocket_handshake_with_a_long_url_is_answered_at_once(
    local_cloud: CloudUnderTest,
) -> None:
    port = int(local_cloud.endpoints["local_api_url"].rsplit(":", 1)[1])
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET /api/v1/live?host={'a' * 9000} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        started = time.monotonic()
        connection.sendall(handshake.encode())
        answer = connection.recv(100)  # raises TimeoutError if it hangs, as it did for 20 s

    assert answer.startswith(b"HTTP/1.1 ")
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_a_revoked_token_stops_working_within_the_cache_time(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("revoked")
    host = SyntheticHost(name)
    assert post_batch(local_cloud, host.batch([int(time.time() * 1000)]), token).ok

    revoked = local_cloud.cli("agents", "revoke", name)
    assert revoked.returncode == 0, revoked.stdout
    started = time.monotonic()
    status = 202
    while status == 202 and time.monotonic() - started < 30:
        time.sleep(0.5)
        status = post_batch(local_cloud, host.batch([int(time.time() * 1000)]), token).status_code
    took = time.monotonic() - started

    assert status == 401
    # HOSTPULSE_AGENT_CACHE_SECONDS (15 s) per warm function, plus a request's time.
    assert took <= 17, f"the revoked token worked for {took:.1f} s"


def test_a_fleet_token_writes_as_its_members_for_its_hosts_only(
    local_cloud: CloudUnderTest,
) -> None:
    fleet = f"nodes-{os.urandom(3).hex()}"
    added = local_cloud.cli("agents", "add", fleet, "--fleet", "--host", f"{fleet}-node-*")
    without_hosts = local_cloud.cli("agents", "add", f"{fleet}x", "--fleet")
    token = added.stdout.splitlines()[0]
    listed = local_cloud.cli("agents", "list")
    assert added.returncode == 0 and token.startswith("hp_"), added.stdout
    assert without_hosts.returncode == 1 and "--host" in without_hosts.stdout
    assert f"{fleet}.*" in listed.stdout

    now = int(time.time() * 1000)
    members = {f"{fleet}-node-{i}": f"{fleet}.{fleet}-node-{i}" for i in (1, 2)}
    # Both members start at sequence 1: each is an agent of its own.
    for host, member in members.items():
        batch = SyntheticHost(host, agent_id=member).batch([now - 1000])
        assert post_batch(local_cloud, batch, token).status_code == 202
    eventually(lambda: {h: owner_of(local_cloud, h) for h in members} == members, timeout=60)

    refused = {
        "outside its hosts": SyntheticHost(f"{fleet}-db", agent_id=f"{fleet}.db"),
        "a look-alike name": SyntheticHost(f"{fleet}-node-3", agent_id=f"{fleet}-evil.x"),
        "another agent": SyntheticHost(f"{fleet}-node-3", agent_id="other"),
    }
    for why, sender in refused.items():
        response = post_batch(local_cloud, sender.batch([now]), token)
        assert response.status_code == 403, why
    time.sleep(2)  # what a 202 would have queued has had time to land
    assert owner_of(local_cloud, f"{fleet}-node-3") is None
    assert owner_of(local_cloud, f"{fleet}-db") is None


def test_a_fleet_member_cannot_take_the_name_of_an_agent_of_its_own(
    local_cloud: CloudUnderTest,
) -> None:
    fleet = f"nodes-{os.urandom(3).hex()}"
    real = f"{fleet}.web1"
    # Added before names were checked at creation: both exist, the real agent with its token.
    real_token = local_cloud.cli("agents", "add", real, "--host", "web1-" + fleet)
    assert real_token.returncode == 0, real_token.stdout + real_token.stderr
    refused_fleet = local_cloud.cli("agents", "add", fleet, "--fleet", "--host", "*")
    assert refused_fleet.returncode == 1
    assert "member of the fleet" in refused_fleet.stdout + refused_fleet.stderr
    fleet_token = "hp_" + os.urandom(24).hex()
    conn = psycopg2.connect(local_cloud.endpoints["database_url"])
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO agents (name, token_hash, hosts, fleet) VALUES (%s, %s, %s, true)",
            (fleet, token_hash(fleet_token), ["*"]),
        )
    conn.close()

    now = int(time.time() * 1000)
    posing = SyntheticHost("web1-" + fleet, agent_id=real).batch([now - 2000])
    answer = post_batch(local_cloud, posing, fleet_token)
    # Before, 202: then the real agent's batch with the same number was skipped as a reuse.
    assert answer.status_code == 403 and answer.json()["error"] == "agent_name_taken"
    own = SyntheticHost("web1-" + fleet, agent_id=real).batch([now - 1000])
    assert post_batch(local_cloud, own, real_token.stdout.splitlines()[0]).status_code == 202
    eventually(lambda: owner_of(local_cloud, "web1-" + fleet) == real, timeout=60)
