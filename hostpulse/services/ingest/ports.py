"""What ingestion needs from the outside world; adapters implement these, tests fake them."""

from __future__ import annotations

from typing import Protocol

from hostpulse.core.best_effort import Counters
from hostpulse.core.contract import Batch
from hostpulse.services.agents.tokens import AgentGrant

__all__ = [
    "AgentDirectory", "Archive", "AuthThrottle", "BatchQueue", "Counters", "HotStore",
    "IngestMeter", "RateLimiter",
]  # fmt: skip


class AgentDirectory(Protocol):
    def grant_for_token(self, token: str) -> AgentGrant | None:
        """The agent a token belongs to and the hosts it may write; None when unknown or
        revoked."""

    def cached_grant(self, token: str) -> AgentGrant | None:
        """The grant of a token already known to be active, without a look-up; None when it
        has to be looked up."""


class AuthThrottle(Protocol):
    """Bounds the token look-ups that fail, per client address: guessing tokens must not turn
    into one database query per guess."""

    def blocked_for(self, source: str) -> float:
        """0 when ``source`` may have a token looked up, else the seconds until it may."""

    def failed(self, source: str) -> None:
        """Count a look-up from ``source`` that found no active token."""

    def attempt(self, source: str) -> float:
        """Count an attempt from ``source`` before it is checked, and answer as
        ``blocked_for`` does with it counted: attempts made at once cannot all pass a count
        read before any of them was written."""

    def forgive(self, source: str) -> None:
        """Take back an attempt that succeeded: only failures use up the bound."""


class RateLimiter(Protocol):
    def acquire(self, agent_id: str, batches: int = 1) -> float:
        """0 when the agent may send ``batches`` now, the seconds until it may, or -1 while
        the backend drains for a shutdown (nothing new is accepted then: agents keep it
        spooled)."""


class HotStore(Protocol):
    def write(self, batch: Batch, now_ms: int) -> None:
        """Hot window, latest snapshot, host registry and live channel."""


class BatchQueue(Protocol):
    def send(self, body: str, dedup_key: str) -> None:
        """Durably enqueue for aggregation and for alerts; raises if not both hold it."""


class Archive(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


class IngestMeter(Protocol):
    def answered(self, status: int, samples: int, elapsed_ms: float, now_ms: int) -> None:
        """One answer for the pipeline's minute-by-minute history."""
