"""Agent tokens: shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
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


class AgentExists(ValueError):
    pass


class AgentRepository(Protocol):
    def add(self, name: str, hashed: str) -> None: ...

    def list(self) -> list[Agent]: ...

    def revoke(self, name: str) -> bool: ...

    def name_for_hash(self, hashed: str) -> str | None:
        """The active agent with this token hash, or None."""


def register_agent(repository: AgentRepository, name: str) -> str:
    if not AGENT_NAME.match(name):
        raise ValueError(
            f"agent name {name!r} must be 1-63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    token = new_token()
    repository.add(name, token_hash(token))
    return token
