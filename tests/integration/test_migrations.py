from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricReader
from hostpulse.adapters.postgres.migrate import MigrationError, discover, migrate
from tests.support import CloudUnderTest

pytestmark = pytest.mark.localcloud


@pytest.fixture
def scratch_database(local_cloud: CloudUnderTest) -> Iterator[str]:
    url = local_cloud.endpoints["database_url"]
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS migrations_scratch")
        cur.execute("CREATE DATABASE migrations_scratch")
    try:
        yield url.rsplit("/", 1)[0] + "/migrations_scratch"
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS migrations_scratch WITH (FORCE)")
        admin.close()


def migrated_before(number: str, url: str, folder: Path) -> Callable[[], None]:
    """The project's migrations before ``number`` applied to ``url`` from ``folder``; the call
    returned applies that one alone."""
    (after,) = [m for m in discover() if m.label.startswith(number)]
    for m in discover():
        if m.label < number:
            (folder / f"{m.label}.sql").write_text(m.sql)
    migrate(url, folder)

    def upgrade() -> None:
        (folder / f"{after.label}.sql").write_text(after.sql)
        assert migrate(url, folder) == [after.label]

    return upgrade


def day_partitions(cur: Any, table: str) -> None:
    for day in ("2026-11-20", "2026-11-21"):
        cur.execute(
            f"CREATE TABLE {table}_p{day.replace('-', '')} PARTITION OF {table} "
            f"FOR VALUES FROM ('{day}') TO ('{day}'::date + 1)"
        )


def moved_partitions(cur: Any, table: str, old_table: str) -> list[str]:
    """``table``'s partitions, once the table it replaced (``old_table``) is gone."""
    cur.execute("SELECT to_regclass(%s)", (old_table,))
    assert cur.fetchone() == (None,)
    cur.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass ORDER BY 1",
        (table,),
    )
    return [row[0] for row in cur.fetchall()]


def test_the_project_migrations_are_applied_once(local_cloud: CloudUnderTest) -> None:
    url = local_cloud.endpoints["database_url"]

    assert migrate(url) == []
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [row[0] for row in cur.fetchall()] == [m.version for m in discover()]


def test_new_migrations_apply_in_order_and_edits_are_refused(
    scratch_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first (id int);")
    (tmp_path / "0002_second.sql").write_text("ALTER TABLE first ADD COLUMN name text;")

    assert migrate(scratch_database, tmp_path) == ["0001_first", "0002_second"]
    assert migrate(scratch_database, tmp_path) == []

    (tmp_path / "0002_second.sql").write_text("ALTER TABLE first ADD COLUMN other text;")
    with pytest.raises(MigrationError, match="0002_second changed after it was applied"):
        migrate(scratch_database, tmp_path)


def test_a_failing_migration_leaves_nothing_half_applied(
    scratch_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE t (id int); SELECT no_such_function();")

    with pytest.raises(psycopg2.Error):
        migrate(scratch_database, tmp_path)

    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('t'), count(*) FROM schema_migrations")
        assert cur.fetchone() == (None, 0)


def test_raw_rows_by_value_become_rows_by_sample_with_their_partitions(
    scratch_database: str, tmp_path: Path
) -> None:
    """The upgrade to one raw row per sample keeps every value, under its series and time, in
    partitions of the same names and bounds; a sample is then its host and time."""
    upgrade = migrated_before("0010", scratch_database, tmp_path)
    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        day_partitions(cur, "samples_raw")
        cur.execute(
            "INSERT INTO series (host, metric) VALUES ('a', 'cpu.percent'), ('a', 'load.1'),"
            " ('b', 'cpu.percent') RETURNING id"
        )
        a_cpu, a_load, b_cpu = (row[0] for row in cur.fetchall())
        by_value = [
            (a_cpu, "2026-11-20 23:59:59+00", 1.5),
            (a_load, "2026-11-20 23:59:59+00", 0.25),
            (a_cpu, "2026-11-21 00:00:04+00", 2.0),
            (b_cpu, "2026-11-21 00:00:04+00", -0.0),
            (b_cpu, "2026-11-21 00:00:09.5+00", 1e-300),
        ]
        cur.executemany("INSERT INTO samples_raw VALUES (%s, %s, %s)", by_value)
        cur.execute("SELECT series_id, ts, value FROM samples_raw ORDER BY 1, 2")
        values_before = cur.fetchall()

    upgrade()

    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT series_id, ts, value FROM raw_values ORDER BY 1, 2")
        assert cur.fetchall() == values_before
        cur.execute("SELECT host, count(*), sum(cardinality(vals)) FROM samples_raw GROUP BY 1")
        assert sorted(cur.fetchall()) == [("a", 2, 3), ("b", 2, 2)]
        assert moved_partitions(cur, "samples_raw", "samples_raw_by_value") == [
            "samples_raw_p20261120",
            "samples_raw_p20261121",
        ]
        # A sample is its host and time: the same one again is refused whole.
        cur.execute(
            "INSERT INTO samples_raw VALUES ('a', '2026-11-21 00:00:04+00', '{%s}', '{9}')"
            " ON CONFLICT DO NOTHING",
            (a_cpu,),
        )
        assert cur.rowcount == 0


def test_process_rows_become_a_row_per_sample_with_their_partitions(
    scratch_database: str, tmp_path: Path
) -> None:
    """The upgrade to one processes row per sample keeps every process, every field exact, in
    partitions of the same names and bounds; ``process_rows`` reads them as they were."""
    upgrade = migrated_before("0014", scratch_database, tmp_path)
    columns = (
        "host, ts, pid, name, cmdline, username, cpu_percent, rss_bytes, threads, "
        "read_bytes_per_s, write_bytes_per_s, read_bytes_total, write_bytes_total, open_files, "
        "status"
    )
    by_process = [
        ("a", "2026-11-20 23:59:59+00", 7, "nginx", "nginx -g 'daemon off;'", "www", 0.1,
         2**63 - 1, 4, 1e18, 0.0, None, 12, None, "sleeping"),
        ("a", "2026-11-20 23:59:59+00", 1, 'q"uote\\back', "{a,b}", "", 99.5, 0, 1, 5e-324,
         -0.0, 2**40, None, 2**31 - 1, ""),
        ("a", "2026-11-21 00:00:04+00", 7, "ünïcødé ✓", "", "root", 1.0, 1, 1, 0.0, 0.0, 0, 0,
         0, "running"),
        ("b", "2026-11-21 00:00:04+00", 3, "x", "\\N", "nobody", 2.0, 5, 2, 1.5, 2.5, None,
         None, None, "zombie"),
    ]  # fmt: skip
    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        day_partitions(cur, "processes_raw")
        cur.executemany(
            f"INSERT INTO processes_raw ({columns}) VALUES ({', '.join(['%s'] * 15)})",
            by_process,
        )
        cur.execute(f"SELECT {columns} FROM processes_raw ORDER BY 1, 2, 3")
        rows_before = cur.fetchall()

    upgrade()

    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM process_rows ORDER BY 1, 2, 3")
        assert cur.fetchall() == rows_before
        cur.execute("SELECT host, count(*) FROM processes_raw GROUP BY 1 ORDER BY 1")
        assert cur.fetchall() == [("a", 2), ("b", 1)]
        assert moved_partitions(cur, "processes_raw", "processes_raw_by_process") == [
            "processes_raw_p20261120",
            "processes_raw_p20261121",
        ]
        # A sample is its host and time: the same one again is refused whole.
        cur.execute(
            "INSERT INTO processes_raw VALUES ('a', '2026-11-21 00:00:04+00', '[]')"
            " ON CONFLICT DO NOTHING"
        )
        assert cur.rowcount == 0

    # The reads take the moved documents apart as they do those aggregation writes.
    reader = PgMetricReader(PgConnector(scratch_database))
    read = reader.processes_between("a", datetime(2026, 11, 20, tzinfo=UTC), datetime.now(UTC))
    assert [
        (ms, [p["pid"] for p in processes], processes[0]["name"]) for ms, processes in read.items()
    ] == [(1_795_219_199_000, [1, 7], 'q"uote\\back'), (1_795_219_204_000, [7], "ünïcødé ✓")]
    assert read[1_795_219_199_000][1]["rss_bytes"] == 2**63 - 1
    assert read[1_795_219_199_000][0]["read_bytes_per_s"] == 5e-324
    assert [point["ts_ms"] for point in reader.process_history(
        "a", 7, datetime(2026, 11, 20, tzinfo=UTC), datetime.now(UTC)
    )] == [1_795_219_199_000, 1_795_219_204_000]  # fmt: skip


def test_hosts_take_one_spelling_and_a_host_written_under_two_becomes_one(
    scratch_database: str, tmp_path: Path
) -> None:
    """NODE-2 (through /v1/ingest before) and node-2 (through OTLP) become node-2: series folded,
    buckets merged, raw rows joined, the lower-case spelling's rows kept where both had one."""
    upgrade = migrated_before("0015", scratch_database, tmp_path)
    t1, t2 = "2026-11-20 10:00:05+00:00", "2026-11-20 10:00:10+00:00"
    minute = "2026-11-20 10:00:00+00"
    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        day_partitions(cur, "samples_raw")
        day_partitions(cur, "samples_1m")
        cur.execute(
            "INSERT INTO series (host, metric) VALUES ('NODE-2', 'cpu.percent'),"
            " ('NODE-2', 'load.1'), ('node-2', 'cpu.percent'), ('Solo', 'cpu.percent')"
            " RETURNING id"
        )
        upper_cpu, upper_load, lower_cpu, solo_cpu = (row[0] for row in cur.fetchall())
        raw = [
            ("NODE-2", t1, [upper_cpu, upper_load], [10.0, 1.0]),
            ("node-2", t1, [lower_cpu], [20.0]),
            ("NODE-2", t2, [upper_cpu], [30.0]),
            ("Solo", t1, [solo_cpu], [5.0]),
        ]
        cur.executemany("INSERT INTO samples_raw VALUES (%s, %s, %s, %s)", raw)
        buckets = [
            (upper_cpu, 10.0, 30.0, 40, 2, 30.0, t2),
            (lower_cpu, 20.0, 20.0, 20, 1, 20.0, t1),
        ]
        cur.executemany(
            "INSERT INTO samples_1m VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(s, minute, lo, hi, total, n, last, at) for s, lo, hi, total, n, last, at in buckets],
        )
        cur.executemany(
            "INSERT INTO hosts (host, agent_id, first_seen, last_seen, last_received)"
            " VALUES (%s, 'a', %s, %s, %s)",
            [("NODE-2", t1, t2, t2), ("node-2", t2, t2, t2), ("Solo", t1, t1, t1)],
        )
        cur.executemany(
            "INSERT INTO alert_state (rule, host, state) VALUES ('Hot', %s, %s)",
            [("NODE-2", "firing"), ("node-2", "inactive"), ("Solo", "pending")],
        )
        cur.execute(
            "INSERT INTO agent_config_changes (scope, settings, changed_by)"
            " VALUES ('host:NODE-2', '{\"top_n\": 3}', 'ops')"
        )

    upgrade()

    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT host, metric, id FROM series ORDER BY 1, 2")
        assert cur.fetchall() == [
            ("node-2", "cpu.percent", lower_cpu),
            ("node-2", "load.1", upper_load),
            ("solo", "cpu.percent", solo_cpu),
        ]
        cur.execute("SELECT host, series_id, ts, value FROM raw_values")
        assert sorted(cur.fetchall()) == sorted(
            [
                ("node-2", lower_cpu, at(t1), 20.0),  # the lower-case row's
                ("node-2", upper_load, at(t1), 1.0),  # gained
                ("node-2", lower_cpu, at(t2), 30.0),  # moved, its series renamed
                ("solo", solo_cpu, at(t1), 5.0),
            ]
        )
        cur.execute("SELECT series_id, min, max, sum::float8, count, last FROM samples_1m")
        assert cur.fetchall() == [(lower_cpu, 10.0, 30.0, 60.0, 3, 30.0)]
        cur.execute("SELECT host, first_seen, last_seen FROM hosts ORDER BY 1")
        assert cur.fetchall() == [("node-2", at(t1), at(t2)), ("solo", at(t1), at(t1))]
        cur.execute("SELECT host, state FROM alert_state ORDER BY 1")
        assert cur.fetchall() == [("node-2", "inactive"), ("solo", "pending")]
        cur.execute("SELECT scope FROM agent_config_changes")
        assert cur.fetchall() == [("host:node-2",)]
        reader = PgMetricReader(PgConnector(scratch_database))
        assert reader.host_known("node-2") and not reader.host_known("NODE-2")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_hourly_batch_counts_are_built_from_the_batches_already_stored(
    scratch_database: str, tmp_path: Path
) -> None:
    upgrade = migrated_before("0022", scratch_database, tmp_path)
    stored = [  # (agent, seq, host, first_ts): two hours of one day, and the next day
        ("a1", 1, "web-1", "2026-11-20 10:00:05+00"),
        ("a1", 2, "web-1", "2026-11-20 10:59:55+00"),
        ("a1", 4, "web-1", "2026-11-20 11:00:00+00"),
        ("a2", 7, "db-1", "2026-11-21 00:30:00+00"),
    ]
    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        day_partitions(cur, "batches")
        cur.executemany(
            "INSERT INTO batches (agent_id, seq, host, first_ts, last_ts, sample_count)"
            " VALUES (%s, %s, %s, %s, %s, 1)",
            [(a, s, h, ts, ts) for a, s, h, ts in stored],
        )

    upgrade()

    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT host, agent_id, hour, batches, min_seq, max_seq FROM batch_hours")
        assert sorted(cur.fetchall()) == [
            ("db-1", "a2", at("2026-11-21 00:00:00+00:00"), 1, 7, 7),
            ("web-1", "a1", at("2026-11-20 10:00:00+00:00"), 2, 1, 2),
            ("web-1", "a1", at("2026-11-20 11:00:00+00:00"), 1, 4, 4),
        ]
        assert moved_partitions(cur, "batch_hours", "no_such_table") == [
            "batch_hours_p20261120",
            "batch_hours_p20261121",
        ]
