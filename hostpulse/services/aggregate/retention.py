"""Retention: whole day partitions whose every row is past its tier's age are dropped, unless a
rolled tier still has to roll them up."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from hostpulse.core.partitions import first_kept_day, partition_day
from hostpulse.core.tiers import Tier
from hostpulse.services.aggregate.ports import PartitionStore

log = logging.getLogger(__name__)


def retention_by_table(tiers: Sequence[Tier]) -> dict[str, timedelta]:
    raw = next(tier.retention for tier in tiers if tier.name == "raw")
    return {
        **{tier.table: tier.retention for tier in tiers},
        "processes_raw": raw,
        "batches": raw,  # completeness is reported over the raw tier's window
        "batch_hours": raw,
    }


def still_to_roll(tiers: Sequence[Tier], watermarks: Mapping[str, datetime]) -> dict[str, date]:
    """Per table a rolled tier is rolled from, the first day it has not rolled up yet: raw
    keeps 24 h, and rollups that failed for longer (a database away) must find their rows."""
    return {
        source.table: watermarks[tier.name].astimezone(UTC).date()
        for source, tier in pairwise(tiers)
        if tier.rolled and tier.name in watermarks
    }


def expired_partitions(
    partitions: Mapping[str, Sequence[str]],
    tiers: Sequence[Tier],
    now: datetime,
    watermarks: Mapping[str, datetime] | None = None,
) -> list[str]:
    retention = retention_by_table(tiers)
    unrolled = still_to_roll(tiers, watermarks or {})
    expired = []
    for table, names in partitions.items():
        for name in names:
            day = partition_day(name)
            if day is None or table not in retention:
                continue
            if day < first_kept_day(now, retention[table]) and day < unrolled.get(table, day.max):
                expired.append(name)
    return sorted(expired)


def run_retention(store: PartitionStore, tiers: Sequence[Tier], now: datetime) -> list[str]:
    dropped = expired_partitions(store.partitions(), tiers, now, store.watermarks())
    for name in dropped:
        store.drop_partition(name)
    log.info("retention done", extra={"dropped": dropped})
    return dropped


@dataclass
class ScheduledRetention:
    """The hourly schedule's work: the partitions every tier has outlived dropped, then
    ``tidy`` (the fleet's: hosts down too long retired, the hot tier kept to the live fleet)
    with what it did."""

    store: PartitionStore
    tiers: Sequence[Tier]
    tidy: Callable[[int], Mapping[str, Any]]

    def run(self, now: datetime) -> dict[str, Any]:
        dropped = run_retention(self.store, self.tiers, now)
        return {"dropped": dropped, **self.tidy(int(now.timestamp() * 1000))}
