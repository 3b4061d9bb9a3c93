"""What the agents feature needs from storage: tokens, central configuration, commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from hostpulse.services.agents.config import ConfigChange, Scope
    from hostpulse.services.agents.control import Command, CommandKind
    from hostpulse.services.agents.tokens import Agent, AgentGrant


class AgentRepository(Protocol):
    def add(self, name: str, hashed: str, hosts: Sequence[str], fleet: bool = False) -> None: ...

    def list(self) -> list[Agent]: ...

    def revoke(self, name: str) -> bool: ...

    def bind(self, name: str, hosts: Sequence[str]) -> bool:
        """Replace the host patterns of an active agent; False when there is none."""

    def set_host_label(self, name: str, label: str | None) -> bool:
        """The label naming a remote-written series' host (None: the default); False when
        there is no such active agent."""

    def grant_for_hash(self, hashed: str) -> AgentGrant | None:
        """The active agent with this token hash, or None."""

    def directory_version(self) -> int:
        """A number that changes with every change to any agent (added, revoked, bound,
        relabelled), committed with it."""


class AgentConfigStore(Protocol):
    def append(
        self, scope: Scope, settings: Mapping[str, Any] | None, changed_by: str
    ) -> ConfigChange:
        """A new version for ``scope``."""

    def current(self) -> list[ConfigChange]:
        """The newest change of every scope ever changed, removals included."""

    def history(self, scope: Scope | None, limit: int) -> list[ConfigChange]:
        """Newest first."""


class CommandStore(Protocol):
    def issue(self, host: str, kind: CommandKind, issued_by: str) -> Command: ...

    def newest_pending(self) -> dict[str, int]:
        """Per host with pending commands, the newest one's id."""

    def pending(self, host: str) -> list[Command]:
        """The host's commands not acknowledged yet, oldest first."""

    def ack(self, host: str, command_id: int, result: Mapping[str, Any]) -> bool:
        """False when the host has no such pending command (acknowledged already, or
        another host's)."""

    def recent(self, host: str | None, limit: int) -> list[Command]:
        """Newest first."""
