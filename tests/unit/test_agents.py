from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psycopg2
import pytest

from hostpulse.adapters.postgres.agents import CachedAgentDirectory
from hostpulse.services.agents.tokens import (
    Agent,
    AgentExists,
    AgentGrant,
    name_taken,
    register_agent,
    token_hash,
)


@dataclass
class MemoryRepository:
    rows: dict[str, str] = field(default_factory=dict)  # name -> hash
    hosts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    fleets: set[str] = field(default_factory=set)
    lookups: int = 0
    version: int = 0  # moved by every change, as the database's trigger does
    version_reads: int = 0

    def add(self, name: str, hashed: str, hosts: Sequence[str], fleet: bool = False) -> None:
        clash = name_taken(name, fleet, [(other, other in self.fleets) for other in self.rows])
        if clash is not None:
            raise clash
        self.rows[name] = hashed
        self.hosts[name] = tuple(hosts)
        if fleet:
            self.fleets.add(name)
        self.version += 1

    def bind(self, name: str, hosts: Sequence[str]) -> bool:
        self.hosts[name] = tuple(hosts)
        self.version += 1
        return name in self.rows

    def set_host_label(self, name: str, label: str | None) -> bool:
        self.version += 1
        return name in self.rows

    def list(self) -> list[Agent]:
        return []

    def revoke(self, name: str) -> bool:
        self.revoked.add(name)
        self.version += 1
        return True

    def grant_for_hash(self, hashed: str) -> AgentGrant | None:
        self.lookups += 1
        for name, stored in self.rows.items():
            if stored == hashed and name not in self.revoked:
                return AgentGrant(name, self.hosts[name], name in self.fleets)
        return None

    def directory_version(self) -> int:
        self.version_reads += 1
        return self.version


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

    assert directory.grant_for_token(token) == AgentGrant("web-1", ("web-1",))
    assert directory.grant_for_token(token) == AgentGrant("web-1", ("web-1",))
    assert repository.lookups == 1

    repository.revoke("web-1")
    time.sleep(0.25)
    assert directory.grant_for_token(token) is None


def test_a_fleet_of_tokens_is_not_looked_up_again_while_the_agents_stay_as_they_are() -> None:
    repository = MemoryRepository()
    tokens = [register_agent(repository, f"web-{n}") for n in range(50)]
    directory = CachedAgentDirectory(repository, ttl_s=0.05)
    for token in tokens:
        directory.grant_for_token(token)
    time.sleep(0.1)  # past the ttl: the next call reads the directory's version again

    for token in tokens:
        assert directory.cached_grant(token) is not None
        assert directory.grant_for_token(token) is not None

    assert repository.lookups == 50  # each token once
    assert repository.version_reads == 2  # once at the start, once after the ttl


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.revoke("web-1"),
        lambda r: r.bind("web-1", ["db-1"]),
        lambda r: register_agent(r, "web-2"),
    ],
    ids=["revoke", "bind", "register"],
)
def test_any_change_to_the_agents_drops_the_cached_grants(
    change: Callable[[MemoryRepository], object],
) -> None:
    repository = MemoryRepository()
    token = register_agent(repository, "web-1")
    directory = CachedAgentDirectory(repository, ttl_s=0.05)
    before = directory.grant_for_token(token)
    change(repository)
    time.sleep(0.1)

    assert directory.cached_grant(token) is None  # must be looked up again
    assert directory.grant_for_token(token) == repository.grant_for_hash(token_hash(token))
    assert before == AgentGrant("web-1", ("web-1",))


def test_a_grant_looked_up_while_a_change_commits_is_not_kept() -> None:
    repository = MemoryRepository()
    token = register_agent(repository, "web-1")
    directory = CachedAgentDirectory(repository, ttl_s=0.05)
    looked_up = repository.grant_for_hash

    def revoked_meanwhile(hashed: str) -> AgentGrant | None:
        grant = looked_up(hashed)  # read before the revocation commits
        repository.revoke("web-1")
        return grant

    repository.grant_for_hash = revoked_meanwhile  # type: ignore[method-assign]
    assert directory.grant_for_token(token) == AgentGrant("web-1", ("web-1",))
    repository.grant_for_hash = looked_up  # type: ignore[method-assign]
    time.sleep(0.1)

    assert directory.grant_for_token(token) is None


def test_while_the_store_is_away_a_recently_known_token_still_works() -> None:
    repository = MemoryRepository()
    token = register_agent(repository, "web-1")
    stranger = register_agent(repository, "db-1")
    directory = CachedAgentDirectory(repository, ttl_s=0.05, stale_s=0.5)
    directory.grant_for_token(token)
    time.sleep(0.1)  # past the ttl: the next call asks the store

    def away(*_: object) -> int:
        raise psycopg2.OperationalError("connection refused")

    repository.grant_for_hash = away  # type: ignore[method-assign,assignment]
    repository.directory_version = away  # type: ignore[method-assign]

    assert directory.cached_grant(token) is None  # not without the store: the look-up decides
    assert directory.grant_for_token(token) == AgentGrant("web-1", ("web-1",))
    with pytest.raises(psycopg2.OperationalError):
        directory.grant_for_token(stranger)  # never looked up: it cannot be vouched for
    time.sleep(0.5)
    with pytest.raises(psycopg2.OperationalError):
        directory.grant_for_token(token)  # too long ago: no longer vouched for either


def test_an_agent_writes_its_own_host_unless_bound_to_others() -> None:
    repository = MemoryRepository()
    register_agent(repository, "web-1")
    register_agent(repository, "collector", ["db-*", "cache-1.eu"])

    assert repository.hosts == {"web-1": ("web-1",), "collector": ("db-*", "cache-1.eu")}
    own = AgentGrant("web-1", repository.hosts["web-1"])
    assert own.may_write("web-1") and own.may_write("WEB-1")
    assert not own.may_write("web-2") and not own.may_write("web-1x")
    other = AgentGrant("collector", repository.hosts["collector"])
    assert other.may_write("db-7") and other.may_write("cache-1.eu")
    assert not other.may_write("cache-1-eu") and not other.may_write("web-1")


@pytest.mark.parametrize("pattern", ["", "web 1", "web/1", "a\x00", "x" * 254, "web;1"])
def test_bad_host_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="host pattern"):
        register_agent(MemoryRepository(), "web-1", [pattern])


@pytest.mark.parametrize(
    ("agent_id", "allowed"),
    [
        ("nodes", True),  # the fleet's own name
        ("nodes.node-1", True),
        ("nodes.ip-10-0-1-7.eu-west-1.compute.internal", True),
        ("nodes-evil", False),  # a longer name is not a member
        ("nodesx.node-1", False),
        ("other.node-1", False),
        ("nodes.", False),  # a member needs a name
        ("nodes..x", False),
        ("nodes.-x", False),
        ("nodes." + "m" * 60, False),  # past the 63 characters of an agent name
    ],
)
def test_a_fleet_token_writes_as_its_members_only(agent_id: str, allowed: bool) -> None:
    assert AgentGrant("nodes", ("*",), fleet=True).may_act_as(agent_id) is allowed


def test_an_ordinary_token_writes_as_its_own_name_only() -> None:
    grant = AgentGrant("web-1", ("web-1",))

    assert grant.may_act_as("web-1")
    assert not grant.may_act_as("web-1.node-1")


def test_a_fleet_token_needs_the_hosts_its_members_write() -> None:
    with pytest.raises(ValueError, match="--host"):
        register_agent(MemoryRepository(), "nodes", fleet=True)

    repository = MemoryRepository()
    token = register_agent(repository, "nodes", ["node-*"], fleet=True)
    grant = repository.grant_for_hash(token_hash(token))
    assert grant == AgentGrant("nodes", ("node-*",), fleet=True)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("nodes", True), ("nodes.web1", False)),  # a member's name, after its fleet
        (("nodes.web1", False), ("nodes", True)),  # a fleet over an agent named as a member
        (("nodes", True), ("nodes.web1", True)),
    ],
)
def test_an_agent_may_not_be_named_as_a_fleets_member(
    first: tuple[str, bool], second: tuple[str, bool]
) -> None:
    repository = MemoryRepository()
    register_agent(repository, first[0], ["*"], fleet=first[1])

    with pytest.raises(AgentExists, match="member of the fleet 'nodes'"):
        register_agent(repository, second[0], ["*"], fleet=second[1])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("nodes", False), ("nodes.web1", False)),  # no fleet: names like host names are fine
        (("nodes", True), ("nodesx.web1", False)),
        (("nodes", True), ("web1.nodes", False)),
    ],
)
def test_names_that_cannot_collide_are_taken(
    first: tuple[str, bool], second: tuple[str, bool]
) -> None:
    repository = MemoryRepository()
    register_agent(repository, first[0], ["*"], fleet=first[1])
    register_agent(repository, second[0], ["*"], fleet=second[1])

    assert set(repository.rows) == {first[0], second[0]}


def test_a_fleet_member_never_writes_as_an_agent_of_its_own() -> None:
    grant = AgentGrant("nodes", ("*",), fleet=True, taken=frozenset({"nodes.web1"}))

    assert not grant.may_act_as("nodes.web1")
    assert grant.may_act_as("nodes.web2")
