"""What aggregation needs from storage: the tiers it writes, rolls up and drops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from hostpulse.core.contract import Batch
    from hostpulse.core.tiers import Tier
    from hostpulse.services.aggregate.service import Claim


class TierRoller(Protocol):
    def watermarks(self) -> dict[str, datetime]:
        """Per rolled tier, where its rolled buckets end."""

    def roll_up(self, tier: Tier, source: Tier, start: datetime, end: datetime) -> datetime:
        """Roll ``tier``'s buckets in [start, end) from ``source``, unless another rollup
        moved the watermark from ``start`` meanwhile; the watermark afterwards."""

    def roll_again(self, tiers: Sequence[Tier]) -> int:
        """Roll again, finest first, the buckets whose counter resets a late write left
        unsure (a sample fell between a rolled bucket's samples); how many."""


class MetricWriter(Protocol):
    def write_batches(self, batches: Sequence[Batch]) -> list[Claim]:
        """Store in every tier in one transaction; per batch, what became of it."""


class PartitionStore(Protocol):
    def partitions(self) -> dict[str, list[str]]: ...

    def drop_partition(self, partition: str) -> None: ...

    def watermarks(self) -> dict[str, datetime]: ...


class AggregateMeter(Protocol):
    """Aggregation's share of the pipeline's minute."""

    def aggregated(self, stored: int, failed: int, now_ms: int) -> None: ...
