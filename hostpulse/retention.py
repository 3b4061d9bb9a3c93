"""Retention: whole day partitions whose every row is past its tier's age are dropped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from hostpulse.partitions import first_kept_day, partition_day
from hostpulse.tiers import Tier


class PartitionStore(Protocol):
    def partitions(self) -> dict[str, list[str]]: ...

    def drop_partition(self, partition: str) -> None: ...


def retention_by_table(tiers: Sequence[Tier]) -> dict[str, timedelta]:
    raw = next(tier.retention for tier in tiers if tier.name == "raw")
    return {
        **{tier.table: tier.retention for tier in tiers},
        "processes_raw": raw,
        "batches": raw,  # completeness is reported over the raw tier's window
    }


def expired_partitions(
    partitions: Mapping[str, Sequence[str]], tiers: Sequence[Tier], now: datetime
) -> list[str]:
    retention = retention_by_table(tiers)
    expired = []
    for table, names in partitions.items():
        for name in names:
            day = partition_day(name)
            if day is None or table not in retention:
                continue
            if day < first_kept_day(now, retention[table]):
                expired.append(name)
    return sorted(expired)


def run_retention(store: PartitionStore, tiers: Sequence[Tier], now: datetime) -> list[str]:
    dropped = expired_partitions(store.partitions(), tiers, now)
    for name in dropped:
        store.drop_partition(name)
    return dropped
