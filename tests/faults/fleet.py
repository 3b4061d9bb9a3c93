"""A small simulated fleet for the fault tests: registered, sent, then checked exactly once."""

from __future__ import annotations

import time
from typing import Any

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.contract import Batch
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.fleet import SimulatedAgent
from hostpulse.simulation.host import SyntheticHost
from tests.support import eventually
from tests.tier_checks import stored_batches


def register_fleet(endpoints: dict[str, Any], name: str, hosts: int) -> list[SimulatedAgent]:
    """``hosts`` agents of fresh names, each with a token of its own."""
    repository = PgAgentRepository(PgConnector(endpoints["database_url"]))
    run = f"{name}{time.time_ns() % 10**6}"
    agents = [
        SimulatedAgent(SyntheticHost(f"{run}-{i}", cores=2, seed=i), "") for i in range(hosts)
    ]
    for agent in agents:
        agent.token = register_agent(repository, agent.host.hostname)
    return agents


def wait_until_stored(
    url: str, agents: list[SimulatedAgent], accepted: list[Batch], timeout: float
) -> None:
    hosts = [a.host.hostname for a in agents]
    eventually(lambda: stored_batches(url, hosts) == len(accepted), timeout=timeout, interval=2)
