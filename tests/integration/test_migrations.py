from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

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
    before, after = (
        [m for m in discover() if m.label < "0010"],
        [m for m in discover() if m.label.startswith("0010")],
    )
    assert len(after) == 1
    for m in before:
        (tmp_path / f"{m.label}.sql").write_text(m.sql)
    migrate(scratch_database, tmp_path)
    days = ("2026-11-20", "2026-11-21")
    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        for day in days:
            cur.execute(
                f"CREATE TABLE samples_raw_p{day.replace('-', '')} PARTITION OF samples_raw "
                f"FOR VALUES FROM ('{day}') TO ('{day}'::date + 1)"
            )
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

    (tmp_path / f"{after[0].label}.sql").write_text(after[0].sql)
    assert migrate(scratch_database, tmp_path) == [after[0].label]

    with psycopg2.connect(scratch_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT series_id, ts, value FROM raw_values ORDER BY 1, 2")
        assert cur.fetchall() == values_before
        cur.execute("SELECT host, count(*), sum(cardinality(vals)) FROM samples_raw GROUP BY 1")
        assert sorted(cur.fetchall()) == [("a", 2, 3), ("b", 2, 2)]
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'samples_raw'::regclass ORDER BY 1"
        )
        assert [row[0] for row in cur.fetchall()] == [
            "samples_raw_p20261120",
            "samples_raw_p20261121",
        ]
        cur.execute("SELECT to_regclass('samples_raw_by_value')")
        assert cur.fetchone() == (None,)
        # A sample is its host and time: the same one again is refused whole.
        cur.execute(
            "INSERT INTO samples_raw VALUES ('a', '2026-11-21 00:00:04+00', '{%s}', '{9}')"
            " ON CONFLICT DO NOTHING",
            (a_cpu,),
        )
        assert cur.rowcount == 0
