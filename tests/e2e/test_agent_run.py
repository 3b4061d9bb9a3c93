"""`hostpulse-agent run` against the local cloud shows this host with every metric group."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.tokens import register_agent
from hostpulse_agent_rules.text import host_name
from tests.support import CloudUnderTest, eventually

pytestmark = pytest.mark.localcloud


def test_the_agent_process_reports_this_host_and_stops_cleanly(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    endpoints = local_cloud.endpoints
    name = f"run-{time.time_ns() % 10**8}"
    token = register_agent(
        PgAgentRepository(PgConnector(endpoints["database_url"])),
        name,
        [host_name(socket.gethostname())],  # the real agent reports this machine
    )
    (tmp_path / "agent.toml").write_text(
        f'ingest_url = "{endpoints["ingest_url"]}"\nagent_id = "{name}"\n'
        f'state_dir = "{tmp_path / "state"}"\ninterval_s = 1\nsend_every_s = 2\n'
        'labels = { role = "test" }\n'
    )
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hostpulse_agent",
            "--config",
            str(tmp_path / "agent.toml"),
            "--token",
            token,
            "run",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    api = endpoints["local_api_url"]
    hostname = host_name(socket.gethostname())
    try:

        def latest() -> dict[str, object] | None:
            response = requests.get(f"{api}/api/v1/hosts/{hostname}/latest", timeout=10)
            if response.status_code != 200:
                return None
            sample: dict[str, object] = response.json()["sample"]
            return sample if sample.get("disk_io") is not None else None

        sample = eventually(latest, timeout=60)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, logs = agent.communicate(timeout=60)

    assert {
        "cpu",
        "load",
        "memory",
        "disks",
        "disk_io",
        "net",
        "uptime_s",
        "process_count",
        "processes",
        "agent",
    } <= set(sample)
    hosts = requests.get(f"{api}/api/v1/hosts", timeout=10).json()["hosts"]
    mine = next(h for h in hosts if h["host"] == hostname)
    assert mine["status"] == "live" and mine["facts"]["labels"] == {"role": "test"}
    assert agent.returncode == 0
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert lines[-1]["message"] == "agent stopped" and lines[-1]["pending"] == 0
