"""`hostpulse up --runtime processes`: the stack's functions as processes of this machine, with
LocalStack holding only the queues and the bucket. Killed copies come back with nothing lost
or doubled, the schedules run, LocalStack restarts under them, and `down` drains first."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import psycopg2
import pytest
import requests

from hostpulse.core.contract import Batch
from hostpulse.simulation.fleet import RequestsTransport, SimulatedAgent, Simulation
from tests.faults.fleet import register_fleet, wait_until_stored
from tests.support import CloudUnderTest, eventually, pid_alive, post_batch
from tests.tier_checks import assert_stored_exactly_once

# A cloud of its own, started and stopped here.
pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
SERVICES = ("ingest", "aggregate", "alerts", "scheduler")
COPIES = {"ingest-1", "ingest-2", "aggregate-1", "aggregate-2", "alerts", "scheduler"}


@pytest.fixture(scope="module")
def cloud() -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh("process-runtime")
    cloud.env |= {
        "HOSTPULSE_RUNTIME": "processes",
        "HOSTPULSE_INGEST_PROCESSES": "2",
        "HOSTPULSE_AGGREGATE_WORKERS": "2",
    }
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


def status(cloud: CloudUnderTest) -> tuple[int, dict[str, dict[str, object]]]:
    result = cloud.cli("status", "--json")
    rows = json.loads(result.stdout)["components"]
    return result.returncode, {row["name"]: row for row in rows}


def copy_pids(cloud: CloudUnderTest) -> dict[str, int]:
    return {name: cloud.pid(name) for name in COPIES}


def test_the_functions_run_as_processes_beside_queues_and_a_bucket(cloud: CloudUnderTest) -> None:
    code, rows = status(cloud)
    assert code == 0, rows
    assert all(row["healthy"] for row in rows.values())
    assert rows["ingest"]["detail"] == "2 of 2 running, 1 of 1 ready"
    assert rows["aggregate"]["detail"] == "2 of 2 running, 2 of 2 ready"
    endpoints = cloud.endpoints
    assert endpoints["runtime"] == "processes"
    assert (
        endpoints["ingest_url"]
        == f"http://127.0.0.1:{cloud.env['HOSTPULSE_INGEST_PORT']}/v1/ingest"
    )
    assert endpoints["api_url"] == endpoints["local_api_url"]
    assert set(endpoints["processes"]) == set(SERVICES)
    assert all(pid_alive(pid) for pid in copy_pids(cloud).values())
    # LocalStack runs its queues and storage only: no Lambda service, no API Gateway.
    health = requests.get(f"{endpoints['aws_endpoint_url']}/_localstack/health", timeout=10).json()
    running = {
        name for name, state in health["services"].items() if state in ("available", "running")
    }
    assert {"sqs", "s3"} <= running
    assert not running & {"lambda", "apigateway"}

    (agent,) = register_fleet(endpoints, "processes", 1)
    batch = recent_batch(agent)
    assert post_batch(cloud, batch, agent.token).status_code == 202
    assert post_batch(cloud, batch, agent.token).status_code == 202  # again: stored once
    assert post_batch(cloud, batch, "hp_not-a-token").status_code == 401
    wait_until_stored(endpoints["database_url"], [agent], [batch], timeout=60)
    assert_stored_exactly_once(endpoints["database_url"], [batch])
    hosts = requests.get(f"{endpoints['api_url']}/api/v1/hosts", timeout=30).json()["hosts"]
    assert agent.host.hostname in {host["host"] for host in hosts}


def recent_batch(agent: SimulatedAgent) -> Batch:
    now_ms = int(time.time() * 1000)
    return agent.host.batch([now_ms - 2000, now_ms - 1000])


class Killer(threading.Thread):
    """SIGKILLs one copy of each service in turn every ``every_s``, as a crash would."""

    def __init__(self, cloud: CloudUnderTest, victims: list[str], every_s: float) -> None:
        super().__init__(daemon=True)
        self.cloud, self.victims, self.every_s = cloud, victims, every_s
        self.stopping = threading.Event()
        self.killed: list[str] = []

    def run(self) -> None:
        turn = 0
        while not self.stopping.wait(self.every_s):
            victim = self.victims[turn % len(self.victims)]
            turn += 1
            try:
                os.kill(self.cloud.pid(victim), signal.SIGKILL)
                self.killed.append(victim)
            except (ProcessLookupError, FileNotFoundError, ValueError):
                pass


def test_killed_copies_come_back_and_nothing_is_lost_or_doubled(cloud: CloudUnderTest) -> None:
    endpoints = cloud.endpoints
    agents = register_fleet(endpoints, "copies", 4)
    accepted: list[Batch] = []
    before = copy_pids(cloud)
    killer = Killer(cloud, ["aggregate-1", "ingest-1", "aggregate-2"], every_s=5)
    killer.start()
    threading.Timer(16, killer.stopping.set).start()
    try:
        stats = Simulation(
            agents, endpoints["ingest_url"], RequestsTransport(), interval_s=1,
            send_every_s=2, duration_s=25, on_accepted=accepted.append,
        ).run()  # fmt: skip
    finally:
        killer.stopping.set()
        killer.join()

    assert killer.killed == ["aggregate-1", "ingest-1", "aggregate-2"]
    assert stats.given_up == 0
    assert stats.rejected == 0
    wait_until_stored(endpoints["database_url"], agents, accepted, timeout=180)
    assert_stored_exactly_once(endpoints["database_url"], accepted)
    pipeline = requests.get(f"{endpoints['api_url']}/api/v1/pipeline", timeout=30).json()
    assert pipeline["queues"]["aggregate"]["dead_letters"] == 0
    # Each killed copy runs again under a new pid; the others never stopped.
    eventually(lambda: status(cloud)[0] == 0, timeout=60)
    after = copy_pids(cloud)
    assert {n for n in COPIES if after[n] != before[n]} == set(killer.killed)
    log = (cloud.state_dir / "logs" / "up.log").read_text()
    assert "warning: aggregate-1 was killed by SIGKILL" in log
    assert "warning: ingest-1 was killed by SIGKILL" in log


def test_the_scheduler_runs_the_rule_groups_on_their_rate(cloud: CloudUnderTest) -> None:
    def evaluated_at() -> object:
        with psycopg2.connect(cloud.endpoints["database_url"]) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT evaluated_at FROM alert_rule_groups WHERE name = 'hostpulse-defaults'"
            )
            row = cur.fetchone()
        return row[0] if row else None

    def runs() -> int:
        return (cloud.state_dir / "logs" / "scheduler.log").read_text().count("alerts-tick: done")

    # alerts-tick runs a minute after the start, then every minute; it evaluates the default
    # rule group (on the group's own interval).
    eventually(evaluated_at, timeout=150, interval=2)
    seen = runs()
    eventually(lambda: runs() > seen, timeout=90, interval=2)
    assert "failed" not in (cloud.state_dir / "logs" / "scheduler.log").read_text()


def test_localstack_restarts_under_the_running_processes(cloud: CloudUnderTest) -> None:
    pids = copy_pids(cloud)
    result = cloud.cli("restart", "localstack", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert copy_pids(cloud) == pids, "the processes kept running"

    (agent,) = register_fleet(cloud.endpoints, "restarted", 1)
    batch = recent_batch(agent)
    eventually(lambda: post_batch(cloud, batch, agent.token).status_code == 202, timeout=60)
    wait_until_stored(cloud.endpoints["database_url"], [agent], [batch], timeout=60)


def test_down_drains_what_ingest_accepted_and_up_finds_it_stored(cloud: CloudUnderTest) -> None:
    agents = register_fleet(cloud.endpoints, "drained", 4)
    accepted: list[Batch] = []
    simulation = Simulation(
        agents, cloud.endpoints["ingest_url"], RequestsTransport(timeout_s=5), interval_s=0.5,
        send_every_s=1, duration_s=12, on_accepted=accepted.append, give_up_after_s=5,
    )  # fmt: skip
    sending = threading.Thread(target=simulation.run)
    sending.start()
    time.sleep(6)
    down = cloud.cli("down", timeout=180)
    sending.join()
    assert down.returncode == 0
    log = (cloud.state_dir / "logs" / "up.log").read_text()
    assert "draining: ingest refuses new batches" in log
    assert len(accepted) >= 4 * 4, "the fleet sent before the drain"

    cloud.up()
    url = cloud.endpoints["database_url"]
    wait_until_stored(url, agents, accepted, timeout=30)
    assert_stored_exactly_once(url, accepted)
