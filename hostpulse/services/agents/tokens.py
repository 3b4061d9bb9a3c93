"""Agent tokens: shown once, stored only as a hash, each bound to the hosts it may write."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hostpulse.services.agents.ports import AgentRepository

AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
# A host name of the wire contract, or a glob of them ('web-*', 'db-?.eu').
HOST_PATTERN = re.compile(r"^[A-Za-z0-9._*?\[\]-]{1,253}$")
TOKEN_PREFIX = "hp_"  # noqa: S105 - a prefix that marks tokens in logs, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Agent:
    name: str
    created_at: datetime
    revoked_at: datetime | None
    hosts: tuple[str, ...] = ()
    fleet: bool = False
    host_label: str | None = None


@dataclass(frozen=True)
class AgentGrant:
    """What an active token allows: writing as ``name`` for the hosts its patterns match.

    A fleet token (one Secret for every node of a DaemonSet) writes as ``<name>.<member>``,
    each member an agent of its own with its own sequence numbers, never as another name.
    """

    name: str
    hosts: tuple[str, ...]
    fleet: bool = False
    # A fleet's member names that are agents of their own (added before the rule below held):
    # a member never writes as one, or the two would share sequence numbers.
    taken: frozenset[str] = frozenset()
    # Remote write: the label naming a series' host (None: ``host``, else ``instance``).
    host_label: str | None = None

    def may_act_as(self, agent_id: str) -> bool:
        if agent_id == self.name:
            return True
        member = agent_id.removeprefix(f"{self.name}.")
        return (
            self.fleet
            and member != agent_id
            and agent_id not in self.taken
            and bool(AGENT_NAME.match(member))
            and bool(AGENT_NAME.match(agent_id))
        )

    def may_write(self, hostname: str) -> bool:
        # Host names are case-insensitive (DNS): 'WEB-1' is web-1's.
        name = hostname.lower()
        return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.hosts)


class AgentExists(ValueError):
    pass


def writes_as_the_same(name: str, fleet: bool, other: str, other_fleet: bool) -> bool:
    """Whether two agents could write as the same agent id: a fleet writes as its members,
    ``<fleet>.<member>``, so no other agent may be named that way."""
    return (other_fleet and name.startswith(f"{other}.")) or (
        fleet and other.startswith(f"{name}.")
    )


def name_taken(name: str, fleet: bool, existing: Sequence[tuple[str, bool]]) -> AgentExists | None:
    """The refusal of a new agent whose name would collide with one of ``existing``."""
    for other, other_fleet in existing:
        if writes_as_the_same(name, fleet, other, other_fleet):
            fleet_name, member = (other, name) if other_fleet else (name, other)
            return AgentExists(
                f"agent {member!r} would share its name with a member of the fleet"
                f" {fleet_name!r}; pick another name"
            )
    return None


def check_agent_name(name: str) -> None:
    if not AGENT_NAME.match(name):
        raise ValueError(
            f"agent name {name!r} must be 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def check_host_patterns(hosts: Sequence[str]) -> tuple[str, ...]:
    for pattern in hosts:
        if not HOST_PATTERN.match(pattern):
            raise ValueError(
                f"host pattern {pattern!r} must be a host name or a glob of one "
                "(letters, digits, '.', '_', '-', '*', '?', '[...]')"
            )
    return tuple(dict.fromkeys(hosts))


HOST_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,127}$")


def check_host_label(label: str) -> str:
    if not HOST_LABEL.match(label):
        raise ValueError(f"{label!r} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    return label


def register_agent(
    repository: AgentRepository,
    name: str,
    hosts: Sequence[str] | None = None,
    *,
    fleet: bool = False,
) -> str:
    """A new agent and its token; it writes the host of its own name unless told otherwise.
    A fleet's members are agents named ``<name>.<member>``; it has no host of its own name."""
    check_agent_name(name)
    if fleet and not hosts:
        raise ValueError("a fleet token needs the hosts its members may write (--host 'node-*')")
    token = new_token()
    repository.add(name, token_hash(token), check_host_patterns(hosts or [name]), fleet)
    return token
