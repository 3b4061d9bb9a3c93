"""What the fleet's lifecycle needs: the hosts as stored, the hot tier's keys of each host, and
the alerts a host that leaves still has open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class KnownHost:
    host: str
    last_seen_ms: int
    retired_ms: int | None
    retired_by: str | None


class HostRegistry(Protocol):
    def known(self, host: str) -> KnownHost | None: ...

    def listed(self, retired_only: bool = False) -> list[KnownHost]: ...

    def retire(self, host: str, by: str, now_ms: int) -> bool:
        """Retired now; False when there is no such host or it is retired already."""

    def silent_since(self, before_ms: int) -> list[str]:
        """The hosts not retired whose newest sample is older than ``before_ms``."""

    def retired_before(self, before_ms: int) -> list[str]:
        """The retired hosts whose newest sample is older than ``before_ms``."""

    def forget(self, host: str) -> bool:
        """Every row of the host, in every tier, gone; False when there was none."""


class HotTier(Protocol):
    def forget(self, host: str) -> None:
        """The host's keys and its entries in the fleet-wide keys, gone."""

    def unseen_since(self, before_ms: int, limit: int) -> list[str]:
        """Hosts the hot tier still lists whose newest sample is older than ``before_ms``."""

    def forget_if_unseen(self, host: str, before_ms: int) -> bool:
        """``forget``, unless a sample newer than ``before_ms`` arrived meanwhile."""


# The alerts a host that leaves the fleet still has open, resolved now: (host, now_ms).
ResolveAlerts = Callable[[str, int], int]
