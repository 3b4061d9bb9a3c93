"""One batch per (agent, seq) on the real PostgreSQL: a reuse is skipped whole, not half stored."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg2
import pytest

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricReader, PgMetricStore
from hostpulse.core.contract import Batch, metric_values
from hostpulse.core.responses import ProcessRow
from hostpulse.services.aggregate.service import Claim
from hostpulse.services.query.rows import ms_time
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest

pytestmark = pytest.mark.localcloud


def rows(cloud: CloudUnderTest, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(cloud.endpoints["database_url"])
    with conn, conn.cursor() as cur:
        cur.execute(sql, params)
        found = list(cur.fetchall())
    conn.close()
    return found


def two_batches_under_one_seq(name: str) -> tuple[Batch, Batch]:
    host = SyntheticHost(name, agent_id=name)
    now = int(time.time() * 1000)
    first = host.batch([now - 20_000, now - 15_000])
    other = host.batch([now - 10_000, now - 5_000]).model_copy(update={"seq": first.seq})
    return first, other


def stored_times(cloud: CloudUnderTest, host: str) -> set[int]:
    found = rows(
        cloud,
        "SELECT DISTINCT (extract(epoch FROM r.ts) * 1000)::bigint FROM raw_values r "
        "JOIN series s ON s.id = r.series_id WHERE s.host = %s",
        host,
    )
    return {ms for (ms,) in found}


@pytest.fixture
def store(local_cloud: CloudUnderTest) -> PgMetricStore:
    return PgMetricStore(PgConnector(local_cloud.endpoints["database_url"]))


def test_a_reused_seq_in_one_group_is_skipped_whole(
    local_cloud: CloudUnderTest, store: PgMetricStore
) -> None:
    name = f"reuse-{uuid.uuid4().hex[:8]}"
    first, other = two_batches_under_one_seq(name)

    assert store.write_batches([first, other]) == [Claim.NEW, Claim.REUSED_SEQ]

    assert rows(local_cloud, "SELECT count(*) FROM batches WHERE agent_id = %s", name) == [(1,)]
    assert stored_times(local_cloud, name) == {s.ts_ms for s in first.samples}


def test_a_reused_seq_in_a_later_transaction_is_skipped_and_a_redelivery_is_a_duplicate(
    local_cloud: CloudUnderTest, store: PgMetricStore
) -> None:
    name = f"reuse-{uuid.uuid4().hex[:8]}"
    first, other = two_batches_under_one_seq(name)

    assert store.write_batches([first]) == [Claim.NEW]
    assert store.write_batches([other]) == [Claim.REUSED_SEQ]
    assert store.write_batches([first, first]) == [Claim.DUPLICATE, Claim.DUPLICATE]

    assert rows(local_cloud, "SELECT count(*) FROM batches WHERE agent_id = %s", name) == [(1,)]
    assert stored_times(local_cloud, name) == {s.ts_ms for s in first.samples}


def test_one_group_with_several_batches_of_a_host_keeps_its_span_and_newest_facts(
    local_cloud: CloudUnderTest, store: PgMetricStore
) -> None:
    name = f"span-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    host = SyntheticHost(name, agent_id=f"{name}-old")
    older = host.batch([now - 60_000, now - 55_000])
    newer = SyntheticHost(name, agent_id=f"{name}-new", cores=2).batch([now - 10_000, now - 5_000])
    middle = host.batch([now - 30_000])

    assert store.write_batches([older, middle, newer]) == [Claim.NEW] * 3

    [(agent, cores, first, last)] = rows(
        local_cloud,
        "SELECT agent_id, (facts->>'cpu_count')::int, "
        "(extract(epoch FROM first_seen) * 1000)::bigint, "
        "(extract(epoch FROM last_seen) * 1000)::bigint FROM hosts WHERE host = %s",
        name,
    )
    assert (agent, cores) == (f"{name}-new", 2)  # the last batch of the group
    assert (first, last) == (now - 60_000, now - 5_000)


def test_a_sample_sent_again_in_another_batch_is_stored_once(
    local_cloud: CloudUnderTest, store: PgMetricStore
) -> None:
    """The rows of a new batch are COPied straight into their tables; one already there (the
    same sample under another sequence number) sends the whole batch the staged way, which
    skips it and keeps the rest."""
    name = f"again-{uuid.uuid4().hex[:8]}"
    host = SyntheticHost(name, processes=3)
    now = int(time.time() * 1000)
    first = host.batch([now - 10_000, now - 5_000])
    second = host.batch([now - 5_000, now]).model_copy(
        update={"samples": [first.samples[1], host.sample(now)]}
    )

    assert store.write_batches([first]) == [Claim.NEW]
    assert store.write_batches([second]) == [Claim.NEW]

    assert stored_times(local_cloud, name) == {now - 10_000, now - 5_000, now}
    [(rows_per_time,)] = rows(
        local_cloud,
        "SELECT DISTINCT count(*) FROM raw_values r JOIN series s ON s.id = r.series_id "
        "WHERE s.host = %s GROUP BY r.ts",
        name,
    )
    assert rows_per_time == len(list(metric_values(first.samples[0])))
    assert rows(
        local_cloud,
        "SELECT count(*), count(DISTINCT ts) FROM process_rows WHERE host = %s",
        name,
    ) == [(9, 3)]


def test_stored_processes_read_back_per_sample_busiest_first(
    local_cloud: CloudUnderTest, store: PgMetricStore
) -> None:
    """What the seed's recent snapshots and the latest-processes fallback read from PostgreSQL:
    each sample's processes under its own time, the span's end excluded."""
    name = f"procs-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    batch = SyntheticHost(name).batch([now - 10_000, now - 5_000, now])
    assert store.write_batches([batch]) == [Claim.NEW]
    reader = PgMetricReader(PgConnector(local_cloud.endpoints["database_url"]))

    def assert_busiest_first(sample_ts: int, processes: list[ProcessRow]) -> None:
        sample = next(s for s in batch.samples if s.ts_ms == sample_ts)
        assert {p["pid"] for p in processes} == {p.pid for p in sample.processes}
        cpu = [p["cpu_percent"] for p in processes]
        assert cpu == sorted(cpu, reverse=True)

    between = reader.processes_between(name, ms_time(now - 10_000), ms_time(now))
    assert sorted(between) == [now - 10_000, now - 5_000]
    for ts, processes in between.items():
        assert_busiest_first(ts, processes)
    latest = reader.latest_processes(name)
    assert latest is not None and latest[0] == now
    assert_busiest_first(now, latest[1])
