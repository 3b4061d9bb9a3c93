"""`hostpulse up/down/status` as a user runs them, each against its own fresh state folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import redis
import requests

from tests.support import HOSTPULSE, CloudUnderTest, eventually, pid_alive

# Each test starts and stops clouds of its own.
pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
COMPONENTS = ("postgres", "redis", "localstack", "api")


@pytest.fixture
def cloud(request: pytest.FixtureRequest) -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh(request.node.name)
    try:
        yield cloud
    finally:
        cloud.down()


def component_pids(cloud: CloudUnderTest) -> dict[str, int]:
    return {name: cloud.pid(name) for name in (*COMPONENTS, "supervisor")}


def status_rows(cloud: CloudUnderTest) -> tuple[int, dict[str, bool]]:
    result = cloud.cli("status", "--json")
    rows = json.loads(result.stdout)["components"]
    return result.returncode, {row["name"]: row["healthy"] for row in rows}


def test_up_status_down_and_up_again_keeps_the_data(cloud: CloudUnderTest) -> None:
    code, rows = status_rows(cloud)
    assert code == 1
    assert rows["supervisor"] is False

    cloud.up()
    code, rows = status_rows(cloud)
    assert code == 0
    assert rows == dict.fromkeys(["supervisor", *COMPONENTS, "stack"], True)
    endpoints = cloud.endpoints
    assert {
        "dashboard_url",
        "ingest_url",
        "api_url",
        "aws_endpoint_url",
        "database_url",
        "redis_url",
    } <= set(endpoints)
    dashboard = requests.get(endpoints["dashboard_url"], timeout=10)
    assert dashboard.status_code == 200
    assert "<title>hostpulse</title>" in dashboard.text

    again = cloud.cli("up", "--detach")
    assert again.returncode == 1
    assert "already running" in again.stdout

    redis.Redis.from_url(endpoints["redis_url"]).set("kept", "yes")
    with psycopg2.connect(endpoints["database_url"]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO agents (name, token_hash) VALUES ('kept', 'hash')")
    pids = component_pids(cloud)

    assert cloud.cli("down").returncode == 0
    eventually(lambda: not any(pid_alive(pid) for pid in pids.values()), timeout=30)
    assert not (cloud.state_dir / "endpoints.json").exists()

    cloud.up()
    endpoints = cloud.endpoints
    assert redis.Redis.from_url(endpoints["redis_url"]).get("kept") == b"yes"
    with psycopg2.connect(endpoints["database_url"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM agents WHERE name = 'kept'")
        assert cur.fetchone() == (1,)


def test_a_crashed_component_stops_everything_with_its_cause(cloud: CloudUnderTest) -> None:
    cloud.up()
    pids = component_pids(cloud)

    os.kill(pids["redis"], signal.SIGKILL)

    eventually(lambda: not any(pid_alive(pid) for pid in pids.values()), timeout=60)
    log = (cloud.state_dir / "logs" / "up.log").read_text()
    assert "error: redis was killed by SIGKILL" in log
    code, rows = status_rows(cloud)
    assert code == 1
    assert rows["supervisor"] is False


def test_a_taken_port_gives_one_line_with_the_cause_and_the_fix(cloud: CloudUnderTest) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cloud.env["HOSTPULSE_REDIS_PORT"] = str(port)

        result = cloud.cli("up", "--detach")

    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port} for Redis is taken by" in lines[0]
    assert "HOSTPULSE_REDIS_PORT" in lines[0]
    postgres_pid = cloud.state_dir / "run" / "postgres.pid"
    assert not postgres_pid.exists()


def test_a_missing_interpreter_says_what_to_install(cloud: CloudUnderTest, tmp_path: Path) -> None:
    cloud.env["HOSTPULSE_LOCALSTACK_PYTHON"] = str(tmp_path / "no-such-python")
    cloud.env["HOSTPULSE_LOCALSTACK_ENV_DIR"] = str(tmp_path / "env")

    result = cloud.cli("up", "--detach")

    assert result.returncode == 1
    assert "is not a working Python 3.13" in result.stdout
    assert "HOSTPULSE_LOCALSTACK_PYTHON" in result.stdout
    assert list((cloud.state_dir / "run").glob("*.pid")) == []


def test_foreground_up_stops_cleanly_on_sigterm(cloud: CloudUnderTest) -> None:
    process = subprocess.Popen(
        [*HOSTPULSE, "up"],
        env=cloud.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        eventually((cloud.state_dir / "endpoints.json").exists, timeout=300)
        pids = component_pids(cloud)

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 0
    assert "hostpulse: stopped" in output
    assert not any(pid_alive(pid) for pid in pids.values())


def test_external_servers_are_used_and_left_running(
    cloud: CloudUnderTest, local_cloud: CloudUnderTest
) -> None:
    external = local_cloud.endpoints
    cloud.env["HOSTPULSE_DATABASE_URL"] = external["database_url"]
    cloud.env["HOSTPULSE_REDIS_URL"] = external["redis_url"]

    cloud.up()
    result = cloud.cli("status", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)["components"]}
    assert result.returncode == 0
    assert rows["postgres"]["detail"].startswith("external")
    assert ":***@" in rows["postgres"]["address"]
    assert rows["redis"]["detail"].startswith("external")
    assert not (cloud.state_dir / "postgres").exists()
    assert cloud.endpoints["database_url"] == external["database_url"]

    assert cloud.cli("down").returncode == 0
    assert pid_alive(local_cloud.pid("postgres"))
    assert pid_alive(local_cloud.pid("redis"))


def test_an_unreachable_external_server_is_named(cloud: CloudUnderTest) -> None:
    cloud.env["HOSTPULSE_REDIS_URL"] = "redis://127.0.0.1:1/0"

    result = cloud.cli("up", "--detach")

    assert result.returncode == 1
    assert "redis at redis://127.0.0.1:1/0 is unreachable" in result.stdout
    assert "HOSTPULSE_REDIS_URL" in result.stdout
    assert list((cloud.state_dir / "run").glob("*.pid")) == []
