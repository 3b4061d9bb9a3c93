"""What the pipeline's self-monitoring watches: queues, the newest sample ingested and
stored, the per-minute tally, probes, and the rules its figures go through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hostpulse.services.self_monitoring.history import PipelineMinute
    from hostpulse.services.self_monitoring.watch import QueueStats


class MinuteTally(Protocol):
    def add(self, minute_ms: int, counts: Mapping[str, float]) -> None:
        """Add ``counts`` to the minute's tally, atomically for concurrent writers."""

    def read(self, minute_ms: int) -> dict[str, float]: ...


class PipelineHistory(Protocol):
    def put(self, minute: PipelineMinute, keep_ms: int) -> None:
        """Keep the minute (replacing an earlier row of it) and forget rows older than
        ``keep_ms`` before it."""

    def read(self, since_ms: int, until_ms: int) -> list[PipelineMinute]: ...


class Probe(Protocol):
    name: str

    def check(self) -> tuple[bool, str]: ...


class QueueGauge(Protocol):
    def stats(self, queue_url: str) -> QueueStats: ...

    def oldest_age_s(self, queue_url: str, now_ms: int) -> float | None:
        """Age of the oldest message of a queue that nothing consumes (a dead-letter queue)."""


class NewestIngested(Protocol):
    def newest_ms(self) -> int | None: ...


class NewestStored(Protocol):
    def newest_stored_ms(self) -> int | None: ...


class ValueRules(Protocol):
    def evaluate_values(
        self, host: str, labels: dict[str, str], values: Mapping[str, float], now_ms: int
    ) -> object: ...
