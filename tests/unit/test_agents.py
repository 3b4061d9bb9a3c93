from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from hostpulse.adapters.pg_agents import CachedAgentDirectory
from hostpulse.agents import Agent, register_agent, token_hash


@dataclass
class MemoryRepository:
    rows: dict[str, str] = field(default_factory=dict)  # name -> hash
    revoked: set[str] = field(default_factory=set)
    lookups: int = 0

    def add(self, name: str, hashed: str) -> None:
        self.rows[name] = hashed

    def list(self) -> list[Agent]:
        return []

    def revoke(self, name: str) -> bool:
        self.revoked.add(name)
        return True

    def name_for_hash(self, hashed: str) -> str | None:
        self.lookups += 1
        for name, stored in self.rows.items():
            if stored == hashed and name not in self.revoked:
                return name
        return None


def test_only_the_hash_of_a_new_token_is_stored() -> None:
    repository = MemoryRepository()

    token = register_agent(repository, "web-1")

    assert token.startswith("hp_") and len(token) > 40
    assert repository.rows == {"web-1": token_hash(token)}
    assert token not in repository.rows.values()


@pytest.mark.parametrize("name", ["", "-lead", "has space", "x" * 64, "semi;colon"])
def test_bad_agent_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="agent name"):
        register_agent(MemoryRepository(), name)


def test_lookups_are_cached_and_a_revocation_applies_after_the_ttl() -> None:
    repository = MemoryRepository()
    token = register_agent(repository, "web-1")
    directory = CachedAgentDirectory(repository, ttl_s=0.2)

    assert directory.agent_for_token(token) == "web-1"
    assert directory.agent_for_token(token) == "web-1"
    assert repository.lookups == 1

    repository.revoke("web-1")
    time.sleep(0.25)
    assert directory.agent_for_token(token) is None
