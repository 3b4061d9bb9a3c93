"""The metric store on PostgreSQL: idempotent batch writes, partitions, retention, reads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import psycopg2
import psycopg2.extensions

from hostpulse.contract import Batch, metric_values
from hostpulse.partitions import day_of_ms, partition_name
from hostpulse.store import sql


class PgConnector:
    """One connection per execution environment, replaced when it breaks."""

    def __init__(self, url: str, connect_timeout_s: float = 5) -> None:
        self.url = url
        self.connect_timeout = max(1, round(connect_timeout_s))
        self._conn: psycopg2.extensions.connection | None = None

    def connection(self) -> psycopg2.extensions.connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(
                self.url,
                connect_timeout=self.connect_timeout,
                options="-c timezone=UTC -c statement_timeout=60000",
                application_name="hostpulse",
            )
        return self._conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        conn = self.connection()
        try:
            with conn, conn.cursor() as cur:  # commits, or rolls back on error
                yield cur
        except psycopg2.OperationalError:
            conn.close()  # a broken connection is not reused
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class PgMetricStore:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector
        self._series_ids: dict[tuple[str, str], int] = {}
        self._partitions: set[str] = set()

    # -- writes -----------------------------------------------------------------------------

    def write_batch(self, batch: Batch) -> bool:
        """Store a batch in every PostgreSQL tier; False when it was stored before."""
        host = batch.host.hostname
        timestamps = [sample.ts_ms for sample in batch.samples]
        with self.connector.transaction() as cur:
            created = self._ensure_partitions(cur, {day_of_ms(ms) for ms in timestamps})
            cur.execute(sql.LOCK_HOST, (host,))
            cur.execute(
                sql.INSERT_BATCH,
                (
                    batch.agent_id,
                    batch.seq,
                    host,
                    min(timestamps),
                    max(timestamps),
                    len(batch.samples),
                ),
            )
            if cur.fetchone() is None:
                self._partitions.update(created)
                return False
            cur.execute(
                sql.UPSERT_HOST,
                (
                    host,
                    batch.agent_id,
                    batch.host.model_dump_json(),
                    min(timestamps),
                    max(timestamps),
                ),
            )
            new_series = self._write_metrics(cur, host, batch)
            self._write_processes(cur, host, batch)
        # Only once committed: a rolled-back transaction takes its partitions and series along.
        self._partitions.update(created)
        self._series_ids.update(new_series)
        return True

    def _write_metrics(self, cur: Any, host: str, batch: Batch) -> dict[tuple[str, str], int]:
        metrics: list[str] = []
        ms: list[int] = []
        values: list[float] = []
        for sample in batch.samples:
            for metric, value in metric_values(sample):
                metrics.append(metric)
                ms.append(sample.ts_ms)
                values.append(value)
        if not metrics:
            return {}
        new_series = self._new_series(cur, host, metrics)
        ids = {m: new_series.get((host, m)) or self._series_ids[(host, m)] for m in set(metrics)}
        rows = {"series": [ids[m] for m in metrics], "ms": ms, "values": values}
        cur.execute(sql.INSERT_RAW, rows)
        cur.execute(sql.ROLLUP_1M, rows)
        cur.execute(sql.ROLLUP_1H, rows)
        return new_series

    def _new_series(
        self, cur: Any, host: str, metrics: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        missing = sorted({m for m in metrics if (host, m) not in self._series_ids})
        if not missing:
            return {}
        cur.execute(sql.ENSURE_SERIES, (host, missing))
        cur.execute(sql.SELECT_SERIES, (host, missing))
        return {(host, metric): series_id for metric, series_id in cur.fetchall()}

    def _write_processes(self, cur: Any, host: str, batch: Batch) -> None:
        columns: dict[str, list[Any]] = {
            key: []
            for key in (
                "ms",
                "pid",
                "name",
                "cmdline",
                "user",
                "cpu",
                "rss",
                "threads",
                "rbs",
                "wbs",
                "rbt",
                "wbt",
                "files",
                "status",
            )
        }
        for sample in batch.samples:
            for p in sample.processes:
                for key, value in (
                    ("ms", sample.ts_ms),
                    ("pid", p.pid),
                    ("name", p.name),
                    ("cmdline", p.cmdline),
                    ("user", p.user),
                    ("cpu", p.cpu_percent),
                    ("rss", p.rss_bytes),
                    ("threads", p.threads),
                    ("rbs", p.read_bytes_per_s),
                    ("wbs", p.write_bytes_per_s),
                    ("rbt", p.read_bytes_total),
                    ("wbt", p.write_bytes_total),
                    ("files", p.open_files),
                    ("status", p.status),
                ):
                    columns[key].append(value)
        if columns["pid"]:
            cur.execute(sql.INSERT_PROCESSES, {"host": host, **columns})

    def _ensure_partitions(self, cur: Any, days: set[date]) -> list[str]:
        created = []
        for day in sorted(days):
            for table in sql.PARTITIONED_TABLES:
                name = partition_name(table, day)
                if name in self._partitions:
                    continue
                # Concurrent writers creating the same partition would collide; the lock
                # (held to the end of the transaction) makes the second one a no-op.
                cur.execute(sql.LOCK_HOST, (name,))
                cur.execute(
                    sql.CREATE_PARTITION.format(
                        partition=name,
                        table=table,
                        start=day.isoformat(),
                        end=(day + timedelta(days=1)).isoformat(),
                    )
                )
                created.append(name)
        return created

    # -- retention --------------------------------------------------------------------------

    def partitions(self) -> dict[str, list[str]]:
        with self.connector.transaction() as cur:
            cur.execute(sql.LIST_PARTITIONS, (list(sql.PARTITIONED_TABLES),))
            found: dict[str, list[str]] = {}
            for table, partition in cur.fetchall():
                found.setdefault(table, []).append(partition)
        return found

    def drop_partition(self, partition: str) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.DROP_PARTITION.format(partition=partition))
        self._partitions.discard(partition)
