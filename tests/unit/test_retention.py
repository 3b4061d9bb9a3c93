from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hostpulse.core.partitions import oldest_kept_ms, partition_name
from hostpulse.core.tiers import default_tiers
from hostpulse.services.aggregate.retention import expired_partitions, run_retention
from tests.fakes import MemoryPartitions

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_a_partition_goes_only_when_its_whole_day_has_expired() -> None:
    partitions = {
        "samples_raw": ["samples_raw_p20261119", "samples_raw_p20261120", "samples_raw_p20261121"],
        "processes_raw": ["processes_raw_p20261119"],
        "batches": ["batches_p20261120"],
        "samples_1m": ["samples_1m_p20261113", "samples_1m_p20261114"],
        "samples_1h": ["samples_1h_p20260822", "samples_1h_p20260823"],
    }

    expired = expired_partitions(partitions, default_tiers(), NOW)

    # raw keeps 24 h: the 20th ends at the 21st 00:00, after the cut-off (20th 12:00).
    assert expired == [
        "processes_raw_p20261119",
        "samples_1h_p20260822",
        "samples_1m_p20261113",
        "samples_raw_p20261119",
    ]


def test_run_drops_the_expired_and_ignores_names_it_does_not_know() -> None:
    store = MemoryPartitions(
        {"samples_raw": ["samples_raw_p20261101", "samples_raw_p20261121", "samples_raw_default"]},
        {"1m": NOW - timedelta(minutes=3)},
    )

    assert run_retention(store, default_tiers(), NOW) == ["samples_raw_p20261101"]
    assert store.dropped == ["samples_raw_p20261101"]


@given(
    now=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    hours=st.integers(min_value=1, max_value=24 * 400),
)
def test_the_dedup_horizon_is_the_first_day_retention_keeps(now: datetime, hours: int) -> None:
    retention = timedelta(hours=hours)
    tiers = default_tiers(raw=retention)
    horizon = oldest_kept_ms(now, retention)
    first_kept = datetime.fromtimestamp(horizon / 1000, UTC).date()
    names = [partition_name("batches", first_kept - timedelta(days=1)),
             partition_name("batches", first_kept)]  # fmt: skip

    assert expired_partitions({"batches": names}, tiers, now) == names[:1]


def test_rows_a_rolled_tier_has_not_rolled_up_yet_are_kept_past_their_age() -> None:
    partitions = {
        "samples_raw": ["samples_raw_p20261118", "samples_raw_p20261119"],
        "samples_1m": ["samples_1m_p20261113", "samples_1m_p20261114"],
    }
    behind = {"1m": datetime(2026, 11, 19, 8, 0, tzinfo=UTC), "5m": datetime(2026, 11, 14, 0, 0,
              tzinfo=UTC)}  # fmt: skip

    # The minutes stopped rolling up on the 19th (the database was away): raw keeps that day.
    assert expired_partitions(partitions, default_tiers(), NOW, behind) == [
        "samples_1m_p20261113",
        "samples_raw_p20261118",
    ]
