from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.tokens import register_agent
from tests.support import CloudUnderTest


@pytest.fixture
def new_agent(local_cloud: CloudUnderTest) -> Callable[[str], tuple[str, str]]:
    """Registers a fresh agent on the session's database: (name, token)."""
    repository = PgAgentRepository(PgConnector(local_cloud.endpoints["database_url"]))

    def make(prefix: str) -> tuple[str, str]:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return name, register_agent(repository, name)

    return make
