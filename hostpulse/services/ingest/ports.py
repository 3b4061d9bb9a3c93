"""What ingestion needs from the outside world; adapters implement these, tests fake them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from hostpulse.core.contract import Batch
from hostpulse.services.agents.tokens import AgentGrant

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from hostpulse.services.ingest.otlp.counters import CounterState


class AgentDirectory(Protocol):
    def grant_for_token(self, token: str) -> AgentGrant | None:
        """The agent a token belongs to and the hosts it may write; None when unknown or
        revoked."""

    def cached_grant(self, token: str) -> AgentGrant | None:
        """The grant of a token already known to be active, without a look-up; None when it
        has to be looked up."""


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


class IngestMeter(Protocol):
    def answered(self, status: int, samples: int, elapsed_ms: float, now_ms: int) -> None:
        """One answer for the pipeline's minute-by-minute history."""

    def over_budget(self, values: int, now_ms: int) -> None:
        """Values left out because their series was past its host's budget."""


class SeriesBudget(Protocol):
    def admit(self, host: str, names: Sequence[str], limit: int) -> list[bool]:
        """For each series name: whether it is one of the host's series, known already or new
        while the host has fewer than ``limit`` (then it is one from now on)."""


class CounterStore(Protocol):
    """Where each host's counter states live between requests (Redis: best effort)."""

    def load(self, host: str) -> dict[str, CounterState]: ...

    def save(self, host: str, changed: Mapping[str, CounterState], removed: list[str]) -> None: ...
