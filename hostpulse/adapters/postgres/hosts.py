"""The fleet's hosts in PostgreSQL, as they are retired and forgotten."""

from __future__ import annotations

from hostpulse.adapters.postgres import hosts_sql as sql
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.fleet.ports import KnownHost


class PgHostRegistry:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def known(self, host: str) -> KnownHost | None:
        with self.connector.transaction() as cur:
            cur.execute(sql.KNOWN, (host,))
            row = cur.fetchone()
        return None if row is None else _known(row)

    def listed(self, retired_only: bool = False) -> list[KnownHost]:
        with self.connector.transaction() as cur:
            cur.execute(sql.LISTED, (not retired_only,))
            return [_known(row) for row in cur.fetchall()]

    def retire(self, host: str, by: str, now_ms: int) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.RETIRE, (now_ms, by, host))
            return bool(cur.rowcount)

    def silent_since(self, before_ms: int) -> list[str]:
        return self._hosts(sql.SILENT_SINCE, before_ms)

    def retired_before(self, before_ms: int) -> list[str]:
        return self._hosts(sql.RETIRED_BEFORE, before_ms)

    def forget(self, host: str) -> bool:
        with self.connector.transaction() as cur:
            for statement in sql.FORGET:
                cur.execute(statement, {"host": host})
            cur.execute(sql.FORGET_HOST_ROW, {"host": host})
            return bool(cur.rowcount)

    def _hosts(self, statement: str, before_ms: int) -> list[str]:
        with self.connector.transaction() as cur:
            cur.execute(statement, (before_ms,))
            return [row[0] for row in cur.fetchall()]


def _known(row: tuple[str, int, int | None, str | None]) -> KnownHost:
    name, last_seen, retired, by = row
    return KnownHost(name, int(last_seen), None if retired is None else int(retired), by)
