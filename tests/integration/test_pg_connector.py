"""The connector the API and the functions share, against the real PostgreSQL."""

from __future__ import annotations

import threading

import psycopg2
import pytest

from hostpulse.adapters.postgres.connector import PgConnector
from tests.support import CloudUnderTest

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


def test_a_connection_killed_by_the_server_is_replaced(local_cloud: CloudUnderTest) -> None:
    url = local_cloud.endpoints["database_url"]
    connector = PgConnector(url)
    with connector.transaction() as cur:
        cur.execute("SELECT pg_backend_pid()")
        victim = cur.fetchone()[0]
    with psycopg2.connect(url) as admin, admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (victim,))

    broken = (psycopg2.OperationalError, psycopg2.InterfaceError)
    with pytest.raises(broken), connector.transaction() as cur:
        cur.execute("SELECT 1")
    with connector.transaction() as cur:
        cur.execute("SELECT pg_backend_pid()")
        assert cur.fetchone()[0] != victim
