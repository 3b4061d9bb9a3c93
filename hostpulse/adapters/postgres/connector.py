"""PostgreSQL connections: reused across invocations, one per concurrent request, replaced when
they break. Every PostgreSQL adapter borrows its transactions here."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg2
import psycopg2.extensions
import psycopg2.extras

# What a cache of ids and partitions is only valid for: this server run (a failover or a
# restore is another), this database (dropped and created again is another) and this series
# table (recreated by a restore). Asked once per new connection.
IDENTITY = """
SELECT pg_postmaster_start_time()::text,
       (SELECT oid FROM pg_database WHERE datname = current_database())::text,
       coalesce(to_regclass('series')::oid::text, '')
"""


class PgConnector:
    """Connections reused across invocations, replaced when they break.

    A function handles one event at a time and keeps one connection; the API under uvicorn
    answers requests on several threads at once, each borrowing its own connection (a
    psycopg2 connection must not be used by two transactions at once).
    """

    def __init__(self, url: str, connect_timeout_s: float = 5, max_connections: int = 8) -> None:
        self.url = url
        self.connect_timeout = max(1, round(connect_timeout_s))
        self._idle: list[psycopg2.extensions.connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._identity: tuple[str, ...] | None = None
        # Grows whenever a new connection finds another database than the last one did:
        # adapters that cache what is in the database start afresh (see IDENTITY).
        self.generation = 0

    def _connect(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(
            self.url,
            connect_timeout=self.connect_timeout,
            # Shortest-exact float output (the default, whatever the server's own setting):
            # series points are written as text by PostgreSQL.
            options="-c timezone=UTC -c statement_timeout=60000 -c extra_float_digits=1",
            application_name="hostpulse",
        )
        # jsonb (host facts, alert details) decoded by orjson: the fleet page's host list decodes
        # a document per host.
        psycopg2.extras.register_default_jsonb(conn_or_curs=conn, loads=orjson.loads)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(IDENTITY)
                identity = tuple(cur.fetchone() or ())
        except psycopg2.Error:
            conn.close()
            raise
        with self._lock:
            if identity != self._identity:
                if self._identity is not None:
                    self.generation += 1
                self._identity = identity
        return conn

    def _borrow(self) -> psycopg2.extensions.connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
        return self._connect()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._borrowed(autocommit=False) as conn, conn, conn.cursor() as cur:
            yield cur  # commits, or rolls back on error

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A cursor for reads, each statement on its own: without a transaction's BEGIN and
        COMMIT, one round trip a statement instead of three, and on a busy box each round trip
        waits for a core. The same answers: under READ COMMITTED each statement of a
        transaction takes its own snapshot too."""
        with self._borrowed(autocommit=True) as conn, conn.cursor() as cur:
            yield cur

    @contextlib.contextmanager
    def _borrowed(self, autocommit: bool) -> Iterator[psycopg2.extensions.connection]:
        if not self._slots.acquire(timeout=30):
            raise TimeoutError("no database connection came free within 30 s")
        try:
            conn = self._borrow()
            try:
                conn.autocommit = autocommit  # an idle connection: set on the client alone
                yield conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                conn.close()  # a broken connection is not reused
                raise
            finally:
                if not conn.closed:
                    with self._lock:
                        self._idle.append(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
