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
