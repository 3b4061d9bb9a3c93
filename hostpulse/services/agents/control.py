"""Agent control: commands to one host's agent, and what ingest tells agents.

A command (collect and send now, pause, resume, send diagnostics) is issued for a host. Every
answer ingest gives that host's agent names the newest pending command and the configuration
version the host should run; an agent behind on either asks ``POST /v1/agent/sync``, which
takes its acknowledgements (with what it did) and hands it its settings and pending commands.
An agent runs each command once, in order, and acknowledges it at its next sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, get_args

from hostpulse.services.agents.config import ConfigChange, desired_for
from hostpulse.services.agents.ports import AgentConfigStore, CommandStore

log = logging.getLogger(__name__)
CommandKind = Literal["collect_now", "pause", "resume", "diagnostics"]
KINDS: tuple[str, ...] = get_args(CommandKind)
T = TypeVar("T")


@dataclass(frozen=True)
class Command:
    id: int
    host: str
    kind: CommandKind
    issued_by: str
    issued_at: datetime
    acked_at: datetime | None = None
    result: Mapping[str, Any] | None = None


class TtlCache(Generic[T]):
    """A read kept for ``ttl_s``: ingest asks for every batch, and may answer from a read a
    few seconds old. When the read fails, the last good one is kept (agents keep what they
    run); before any good read, ``None``."""

    def __init__(
        self, read: Callable[[], T], ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.read = read
        self.ttl_s = ttl_s
        self.clock = clock
        self._value: T | None = None
        self._read_at = float("-inf")

    def get(self) -> T | None:
        now = self.clock()
        if now - self._read_at >= self.ttl_s:
            self._read_at = now  # a failing store is asked again after ttl_s, not every batch
            try:
                self._value = self.read()
            except Exception:
                log.warning("agent control unavailable; answering from the last read")
        return self._value


class AgentControl:
    def __init__(
        self,
        configs: AgentConfigStore,
        commands: CommandStore,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.commands = commands
        self.changes: TtlCache[list[ConfigChange]] = TtlCache(configs.current, ttl_s, clock)
        self.newest: TtlCache[dict[str, int]] = TtlCache(commands.newest_pending, ttl_s, clock)

    def announce(self, host: str, labels: Mapping[str, str]) -> dict[str, int]:
        """For an ingest answer: the configuration version the host should run and its newest
        pending command, each only when known."""
        said: dict[str, int] = {}
        changes = self.changes.get()
        if changes is not None:
            said["config_version"] = desired_for(changes, host, labels).version
        newest = self.newest.get()
        if newest is not None and host in newest:
            said["command"] = newest[host]
        return said

    def sync(
        self, host: str, labels: Mapping[str, str], acks: Sequence[tuple[int, Mapping[str, Any]]]
    ) -> dict[str, Any] | None:
        """The sync answer, after taking the acknowledgements; None when the configuration
        cannot be read (the agent asks again later). Raises when the commands cannot."""
        changes = self.changes.get()
        if changes is None:
            return None
        for command_id, result in acks:
            self.commands.ack(host, command_id, result)
        desired = desired_for(changes, host, labels)
        return {
            "config_version": desired.version,
            "settings": dict(desired.settings),
            "commands": [{"id": c.id, "kind": c.kind} for c in self.commands.pending(host)],
        }


def issue(store: CommandStore, host: str, kind: str, issued_by: str) -> Command:
    """Raises ``ValueError`` for a kind no agent runs."""
    if kind not in KINDS:
        raise ValueError(f"unknown command {kind!r}; known: {', '.join(KINDS)}")
    return store.issue(host, kind, issued_by)  # type: ignore[arg-type]
