"""Central agent configuration and control end to end: `hostpulse agents config` and
`agents command` → PostgreSQL → the ingest function's answer through API Gateway → a running
agent syncs, applies the settings and reports the version it runs, runs commands once and
acknowledges them; an agent that was offline picks the change up when it returns."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.tokens import register_agent
from hostpulse_agent.config import AgentConfig
from hostpulse_agent.runner import Agent
from hostpulse_agent.sender import HttpSender
from tests.e2e.agent_support import raw_timestamps
from tests.support import CloudUnderTest, eventually

pytestmark = pytest.mark.localcloud
SEND_EVERY_S = 3.0


@contextmanager
def running(config: AgentConfig) -> Iterator[Agent]:
    agent = Agent(config, HttpSender(config))
    thread = threading.Thread(target=agent.run, name=f"agent {config.agent_id}")
    thread.start()
    try:
        yield agent
    finally:
        agent.stop()
        thread.join(timeout=30)


def version_of(output: str) -> int:
    """The version `agents config set` printed ('… is at version N: …')."""
    return int(output.split(" is at version ", 1)[1].split(":", 1)[0])


@pytest.mark.slow
def test_a_central_change_reaches_a_running_agent_and_one_that_was_offline(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    endpoints = local_cloud.endpoints
    name = f"central-{time.time_ns() % 10**8}"
    role = f"role-{name}"
    token = register_agent(PgAgentRepository(PgConnector(endpoints["database_url"])), name)
    config = AgentConfig(
        ingest_url=endpoints["ingest_url"], token=token, agent_id=name, hostname=name,
        interval_s=1.0, send_every_s=SEND_EVERY_S, state_dir=tmp_path / "state", timeout_s=5.0,
        groups=frozenset({"cpu", "memory", "load"}), labels={"role": role},
        pinned=frozenset({"log_level"}),
    )  # fmt: skip
    cli = local_cloud.cli

    refused = cli("agents", "config", "set", f"host:{name}", "interval_s=-1")
    assert (
        refused.returncode == 1 and "interval_s: must be a number greater than 0" in refused.stdout
    )
    assert cli("agents", "config", "history", f"host:{name}").stdout == "", "nothing stored"

    with running(config) as agent:
        eventually(lambda: agent.config_version is not None, timeout=30)  # synced: nothing set
        group = cli("agents", "config", "set", f"label:role={role}", "top_n=3", "groups=cpu,load")
        assert group.returncode == 0, group.stdout + group.stderr
        own = cli(
            "agents", "config", "set", f"host:{name}",
            "interval_s=2", "labels=zone=eu", "log_level=DEBUG",
        )  # fmt: skip
        assert own.returncode == 0, own.stdout + own.stderr
        changed, wanted = time.monotonic(), version_of(own.stdout)

        eventually(lambda: agent.config_version == wanted, timeout=4 * SEND_EVERY_S)
        took = time.monotonic() - changed
        assert took <= 2 * SEND_EVERY_S, f"reached the agent after {took:.1f} s"
        assert (agent.config.interval_s, agent.config.top_n) == (2.0, 3)
        assert agent.config.groups == frozenset({"cpu", "load"})
        assert agent.config.labels == {"role": role, "zone": "eu"}
        assert agent.config.log_level == "INFO", "pinned on the host"

        def reported() -> dict[str, object] | None:
            hosts = requests.get(f"{endpoints['local_api_url']}/api/v1/hosts", timeout=10).json()
            host = next((h for h in hosts["hosts"] if h["host"] == name), None)
            facts = host["facts"] if host else {}
            return facts if facts.get("config_version") == wanted else None

        facts = eventually(reported, timeout=30)
        assert facts["labels"] == {"role": role, "zone": "eu"}

        # Control travels the same way: run once, acknowledged with what the agent did.
        assert cli("agents", "command", name, "pause").returncode == 0
        eventually(lambda: agent.paused, timeout=4 * SEND_EVERY_S)
        assert cli("agents", "command", name, "diagnostics").returncode == 0
        time.sleep(6)  # three 2 s ticks collected nothing
        assert cli("agents", "command", name, "resume").returncode == 0
        eventually(lambda: not agent.paused, timeout=2 * SEND_EVERY_S + 4)  # syncing on its own

        def answered() -> list[str] | None:
            lines = cli("agents", "commands", "--host", name).stdout.splitlines()
            return lines if len(lines) == 3 and all(" done " in line for line in lines) else None

        by_kind = {line.split()[5]: line for line in eventually(answered, timeout=30)}
        assert '"paused": true' in by_kind["pause"] and '"paused": false' in by_kind["resume"]
        assert '"agent_version"' in by_kind["diagnostics"]
        assert '"spool_bytes": 0' in by_kind["diagnostics"], "counts stay whole numbers"
        time.sleep(3 * 2.0)  # three samples at the new interval
    stamps = raw_timestamps(endpoints["database_url"], name)
    assert max(b - a for a, b in itertools.pairwise(stamps)) >= 6000, "the pause left a gap"
    steady = stamps[-4:-1]  # the last one is the collection a stop makes
    assert min(b - a for a, b in itertools.pairwise(steady)) >= 1500, stamps[-6:]

    later = cli("agents", "config", "set", f"host:{name}", "top_n=5")
    assert later.returncode == 0, later.stdout + later.stderr
    with running(config) as returned:
        assert returned.config_version == wanted, "what it ran before, from its state folder"
        eventually(lambda: returned.config_version == version_of(later.stdout), timeout=30)
        assert returned.config.top_n == 5 and returned.config.interval_s == 2.0

    history = cli("agents", "config", "history", f"host:{name}").stdout.splitlines()
    assert len(history) == 2 and all("(cli)" in line for line in history)
