"""The tiers read back and checked against what was sent, independently of the code that wrote
them: every sample once in raw, and buckets of every coarser tier that are what the raw rows
add up to (the rolled tiers once rolled up past the samples)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import psycopg2
import pytest

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricStore
from hostpulse.adapters.postgres.migrate import migrate
from hostpulse.adapters.postgres.promql import PgSeriesSource
from hostpulse.core.contract import Batch, metric_values
from hostpulse.core.prometheus_names import is_counter
from hostpulse.core.tiers import Tier, default_tiers
from hostpulse.services.aggregate.rollup import roll_up_tiers
from hostpulse.services.promql.service import PromQLService
from tests.support import CloudUnderTest, per_worker, replace_database

TIERS = default_tiers()
BUCKETED = {tier.name: tier for tier in TIERS if tier.name != "raw"}

RAW = """SELECT s.host, s.metric, (extract(epoch FROM r.ts) * 1000)::bigint, r.value
FROM raw_values r JOIN series s ON s.id = r.series_id WHERE s.host = ANY(%s)"""
TIER = """SELECT s.host, s.metric, (extract(epoch FROM t.bucket) * 1000)::bigint,
       t.min, t.max, t.sum::double precision, t.count, t.last,
       (extract(epoch FROM t.last_ts) * 1000)::bigint, t.first,
       (extract(epoch FROM t.first_ts) * 1000)::bigint, t.reset_sum::double precision
FROM {table} t JOIN series s ON s.id = t.series_id WHERE s.host = ANY(%s)"""
PROCESSES = "SELECT * FROM process_rows WHERE host = ANY(%s)"
BATCH_HOURS = (
    "SELECT host, agent_id, hour, batches, min_seq, max_seq FROM batch_hours WHERE host = ANY(%s)"
)
HOURS_OF_BATCHES = """SELECT host, agent_id, date_trunc('hour', first_ts, 'UTC'), count(*),
       min(seq), max(seq)
FROM batches WHERE host = ANY(%s) GROUP BY 1, 2, 3"""


def rows(cur: Any, sql: str, hosts: list[str]) -> list[tuple[Any, ...]]:
    cur.execute(sql, (hosts,))
    return sorted(cur.fetchall())


def roll_up_until(url: str, now: datetime | None = None) -> None:
    """Every rolled tier rolled up as a rollup at ``now`` would, in as many steps as it takes
    (default: late enough that every bucket up to now is closed)."""
    connector = PgConnector(url)
    try:  # closed even when a rollup fails: a failing example's traceback keeps it otherwise
        store = PgMetricStore(connector)
        while not roll_up_tiers(store, TIERS, now or datetime.now(UTC) + timedelta(hours=7)):
            pass
    finally:
        connector.close()


def snapshot(
    url: str, hosts: list[str], rolled_at: datetime | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Every tier of these hosts, after rolling up as if at ``rolled_at``."""
    roll_up_until(url, rolled_at)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        return {
            "raw": rows(cur, RAW, hosts),
            **{name: rows(cur, TIER.format(table=t.table), hosts) for name, t in BUCKETED.items()},
            "processes": rows(cur, PROCESSES, hosts),
            "batch_hours": rows(cur, BATCH_HOURS, hosts),
            "hours_of_batches": rows(cur, HOURS_OF_BATCHES, hosts),
        }


Bucket = tuple[float, float, float, int, float, int, float | None, int | None, float | None]
UNSURE = """SELECT count(*) FROM {table} t JOIN series s ON s.id = t.series_id
WHERE s.host = ANY(%s) AND t.reset_sum IS NULL AND t.first_ts IS NOT NULL"""


def unsure_buckets(url: str, hosts: list[str]) -> int:
    """How many of these hosts' buckets hold counter resets a late write left unsure, as
    they are now (no rollup first)."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        total = 0
        for tier in BUCKETED.values():
            cur.execute(UNSURE.format(table=tier.table), (hosts,))
            (count,) = cur.fetchone() or (0,)
            total += count
    return int(total)


def independent_rollup(
    raw: list[tuple[Any, ...]], width_ms: int
) -> dict[tuple[str, str, int], Bucket]:
    """min, max, sum, count, last and its time; for a counter, first and its time and the sum
    of the values it fell from (its resets) per bucket, computed here from the raw rows."""
    groups: dict[tuple[str, str, int], list[tuple[int, float]]] = defaultdict(list)
    for host, metric, ts, value in raw:
        groups[(host, metric, ts - ts % width_ms)].append((ts, value))
    result: dict[tuple[str, str, int], Bucket] = {}
    for key, points in groups.items():
        points.sort()
        values = [v for _, v in points]
        fell = math.fsum(before for before, after in pairwise(values) if after < before)
        counter = (values[0], points[0][0], fell) if is_counter(key[1]) else (None, None, None)
        result[key] = (
            min(values), max(values), math.fsum(values), len(values), values[-1], points[-1][0],
            *counter,
        )  # fmt: skip
    return result


def assert_tier_matches(
    stored: list[tuple[Any, ...]], expected: dict[Any, Any], tier: str = ""
) -> None:
    """Every bucket as expected, a counter's first value and resets too."""
    as_dict = {(h, m, b): rest for h, m, b, *rest in stored}
    assert as_dict.keys() == expected.keys(), tier
    for key, (lo, hi, total, count, last, last_ts, first, first_ts, fell) in expected.items():
        s_lo, s_hi, s_total, s_count, s_last, s_last_ts, s_first, s_first_ts, s_fell = as_dict[key]
        found = (s_lo, s_hi, s_count, s_last, s_last_ts, s_first, s_first_ts)
        assert found == (lo, hi, count, last, last_ts, first, first_ts), (tier, key)
        assert s_total == pytest.approx(total, rel=1e-12), (tier, key)
        assert (s_fell is None) == (fell is None), (tier, key)
        if fell is not None:
            assert s_fell == pytest.approx(fell, rel=1e-12, abs=0), (tier, key)


def sent_raw(accepted: list[Batch]) -> list[tuple[str, str, int, float]]:
    """What raw must hold for these batches: every sample's every metric, once."""
    return sorted(
        (b.host.hostname, metric, sample.ts_ms, value)
        for b in accepted for sample in b.samples for metric, value in metric_values(sample)
    )  # fmt: skip


def stored_batches(url: str, hosts: list[str]) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM batches WHERE agent_id = ANY(%s)", (hosts,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def assert_tiers_add_up(stored: dict[str, list[tuple[Any, ...]]]) -> None:
    """Every bucketed tier is what the raw rows add up to."""
    for name, tier in BUCKETED.items():
        expected = independent_rollup(stored["raw"], tier.resolution_s * 1000)
        assert_tier_matches(stored[name], expected, name)


def assert_stored_exactly_once(url: str, accepted: list[Batch]) -> dict[str, list[tuple[Any, ...]]]:
    """Raw holds every accepted sample once; every coarser tier is what raw adds up to."""
    hosts = sorted({b.host.hostname for b in accepted})
    stored = snapshot(url, hosts)
    assert stored["raw"] == sent_raw(accepted)
    assert_tiers_add_up(stored)
    # The hourly counts completeness reads count each batch once, whatever came twice.
    assert stored["batch_hours"] == stored["hours_of_batches"]
    assert sum(row[3] for row in stored["batch_hours"]) == len(
        {(b.agent_id, b.seq) for b in accepted}
    )
    return stored


@contextmanager
def database_holding(
    cloud: CloudUnderTest, name: str, batches: Iterable[Batch], rolled_at: datetime
) -> Iterator[str]:
    """A database of its own on the cloud's server (per test worker), holding these batches,
    its tiers rolled up as at ``rolled_at``; dropped on exit."""
    server = cloud.endpoints["database_url"].rsplit("/", 1)[0]
    url = f"{server}/{per_worker(name)}"
    replace_database(url)
    migrate(url)
    connector = PgConnector(url)
    try:
        store = PgMetricStore(connector)
        written = list(batches)
        for first in range(0, len(written), 5):
            store.write_batches(written[first : first + 5])
    finally:
        connector.close()
    roll_up_until(url, rolled_at)
    yield url
    replace_database(url, create=False)


@contextmanager
def promql_reading(url: str, tiers: tuple[Tier, ...] = TIERS) -> Iterator[PromQLService]:
    """hostpulse's PromQL over that database's tiers; its connections closed on exit."""
    connector = PgConnector(url)
    try:
        yield PromQLService(PgSeriesSource(connector), tiers)
    finally:
        connector.close()
