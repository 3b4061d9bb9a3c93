"""The connector the API and the functions share, against the real PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, timedelta

import psycopg2
import pytest

from hostpulse.adapters.postgres import metrics_sql as sql
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import TIERS, PgMetricStore
from hostpulse.core.partitions import day_of_ms, partition_name
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring.by_url import migrate_database
from tests.support import CloudUnderTest, replace_database

pytestmark = pytest.mark.localcloud


def test_concurrent_requests_each_borrow_their_own_connection(
    local_cloud: CloudUnderTest,
) -> None:
    connector = PgConnector(local_cloud.endpoints["database_url"], max_connections=4)
    pids: list[int] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            with connector.transaction() as cur:
                cur.execute("SELECT pg_backend_pid() FROM pg_sleep(0.3)")
                pids.append(cur.fetchone()[0])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=request) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(pids) == 10
    assert 1 < len(set(pids)) <= 4, "several at once, never more than the limit"


@pytest.mark.parametrize("borrow", ["transaction", "reading"])
def test_a_connection_killed_by_the_server_is_replaced(
    local_cloud: CloudUnderTest, borrow: str
) -> None:
    url = local_cloud.endpoints["database_url"]
    connector = PgConnector(url)
    cursor = getattr(connector, borrow)
    with cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        victim = cur.fetchone()[0]
    with psycopg2.connect(url) as admin, admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (victim,))

    broken = (psycopg2.OperationalError, psycopg2.InterfaceError)
    with pytest.raises(broken), cursor() as cur:
        cur.execute("SELECT 1")
    with cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        assert cur.fetchone()[0] != victim


def test_reads_open_no_transaction_and_the_next_transaction_is_one(
    local_cloud: CloudUnderTest,
) -> None:
    connector = PgConnector(local_cloud.endpoints["database_url"], max_connections=1)
    status = psycopg2.extensions
    with connector.reading() as cur:
        cur.execute("SELECT pg_backend_pid()")
        reader = cur.fetchone()[0]
        assert cur.connection.info.transaction_status == status.TRANSACTION_STATUS_IDLE
    with pytest.raises(RuntimeError), connector.transaction() as cur:
        cur.execute("SELECT pg_backend_pid()")
        assert cur.fetchone()[0] == reader  # the same connection, now in a transaction
        assert cur.connection.info.transaction_status == status.TRANSACTION_STATUS_INTRANS
        cur.execute("CREATE TEMP TABLE rolled_back (x int)")
        raise RuntimeError("the transaction fails")
    with connector.reading() as cur:
        cur.execute("SELECT to_regclass('pg_temp.rolled_back')")
        assert cur.fetchone() == (None,)  # rolled back with its transaction


def stored_cpu(url: str, host: str) -> list[float]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT r.value FROM raw_values r JOIN series s ON s.id = r.series_id"
            " WHERE s.host = %s AND s.metric = 'cpu.percent' ORDER BY r.ts",
            (host,),
        )
        return [row[0] for row in cur.fetchall()]


@pytest.fixture
def scratch(local_cloud: CloudUnderTest) -> Iterator[tuple[str, str]]:
    """A migrated database of its own on the session's server: (server URL, its name)."""
    admin_url = local_cloud.endpoints["database_url"].rsplit("/", 1)[0]
    name = f"scratch_{time.time_ns() % 10**8}"
    replace_database(f"{admin_url}/{name}")
    migrate_database(f"{admin_url}/{name}")
    yield admin_url, name
    replace_database(f"{admin_url}/{name}", create=False)


def test_a_store_behind_a_replaced_database_forgets_its_series_ids_and_partitions(
    scratch: tuple[str, str],
) -> None:
    """Before: series ids cached for the old database wrote rows the new one could not join,
    and partitions it had made were taken to exist (every write failed)."""
    admin_url, name = scratch
    url = f"{admin_url}/{name}"
    store = PgMetricStore(PgConnector(url))
    host = SyntheticHost("restored-1", cores=2)
    now = int(time.time() * 1000)
    assert store.write_batch(host.batch([now - 2000]))

    replace_database(url)  # the same URL, an empty database: as after a restore
    migrate_database(url)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:  # ids the old series had
        cur.execute("INSERT INTO series (host, metric) VALUES ('other', 'x'), ('other', 'y')")
    later = host.batch([now - 1000]).model_copy(update={"seq": 1})
    with pytest.raises(psycopg2.Error):  # the pooled connection died with the database
        store.write_batch(later)
    assert store.write_batch(later)

    assert len(stored_cpu(url, host.hostname)) == 1, "the new sample under its own series"
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM raw_values r WHERE r.series_id <= 2")
        assert cur.fetchone() == (0,), "nothing written under another host's series"


def test_a_partition_dropped_elsewhere_is_made_again(scratch: tuple[str, str]) -> None:
    admin_url, name = scratch
    url = f"{admin_url}/{name}"
    store = PgMetricStore(PgConnector(url))
    host = SyntheticHost("dropped-1", cores=2)
    now = int(time.time() * 1000)
    assert store.write_batch(host.batch([now - 2000]))
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        # as retention does from another execution environment
        cur.execute(f"DROP TABLE {partition_name('samples_raw', day_of_ms(now - 2000))}")

    assert store.write_batch(host.batch([now - 1000]).model_copy(update={"seq": 1}))
    assert len(stored_cpu(url, host.hostname)) == 1  # the first went with its partition


WAITING_WRITERS = """
SELECT count(*) FROM pg_locks
WHERE NOT granted AND locktype = 'advisory'
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def test_a_write_that_makes_partitions_blocks_no_read_while_it_waits(
    scratch: tuple[str, str],
) -> None:
    """A new partition locks its whole table until its transaction ends. Before, it was made in
    the write's transaction, which may wait (here on another writer of the same host): every
    read of every tier waited with it."""
    admin_url, name = scratch
    url = f"{admin_url}/{name}"
    store = PgMetricStore(PgConnector(url))
    host = SyntheticHost("new-day-1", cores=2)
    three_days_ago = int(time.time() * 1000) - 3 * 86_400_000
    other_writer = psycopg2.connect(url)
    with other_writer.cursor() as cur:  # holds the host's write lock, as a writer in flight
        cur.execute(sql.LOCK_KEYS, ([f"host:{host.hostname}"],))
    written: list[bool] = []
    writer = threading.Thread(
        target=lambda: written.append(store.write_batch(host.batch([three_days_ago])))
    )
    writer.start()
    try:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until the write waits on the lock
                cur.execute(WAITING_WRITERS)
                if cur.fetchone() != (0,):
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the write never waited on the other writer")
            cur.execute("SET lock_timeout = '2s'")
            for table in sql.PARTITIONED_TABLES:  # each answers now, not after the write
                cur.execute(f"SELECT count(*) FROM {table}")
                assert cur.fetchone() == (0,)
    finally:
        other_writer.rollback()
        other_writer.close()
        writer.join(timeout=30)
    assert written == [True]
    assert len(stored_cpu(url, host.hostname)) == 1


def test_a_rollup_makes_the_next_days_partitions_ahead(scratch: tuple[str, str]) -> None:
    admin_url, name = scratch
    store = PgMetricStore(PgConnector(f"{admin_url}/{name}"))
    source, tier = TIERS[0], TIERS[1]
    start = store.watermarks()[tier.name]
    end = start + timedelta(seconds=tier.resolution_s)

    assert store.roll_up(tier, source, start, end) == end

    tomorrow = (end - timedelta(microseconds=1)).astimezone(UTC).date() + timedelta(days=1)
    for table in sql.PARTITIONED_TABLES:
        assert partition_name(table, tomorrow) in store.partitions()[table]
