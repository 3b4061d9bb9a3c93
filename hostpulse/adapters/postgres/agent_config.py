"""The agent configuration history and agent commands in PostgreSQL (SQL in
``agent_config_sql``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg2.extras import Json

from hostpulse.adapters.postgres import agent_config_sql as sql
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.config import ConfigChange, Scope
from hostpulse.services.agents.control import Command, CommandKind


class PgAgentConfigStore:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def append(
        self, scope: Scope, settings: Mapping[str, Any] | None, changed_by: str
    ) -> ConfigChange:
        stored = None if settings is None else Json(dict(settings))
        with self.connector.transaction() as cur:
            cur.execute(sql.APPEND, (str(scope), stored, changed_by))
            version, changed_at = cur.fetchone()
        return ConfigChange(version, scope, settings, changed_by, changed_at)

    def current(self) -> list[ConfigChange]:
        with self.connector.transaction() as cur:
            cur.execute(sql.CURRENT)
            return [_change(row) for row in cur.fetchall()]

    def history(self, scope: Scope | None, limit: int) -> list[ConfigChange]:
        with self.connector.transaction() as cur:
            cur.execute(
                sql.HISTORY, {"scope": None if scope is None else str(scope), "limit": limit}
            )
            return [_change(row) for row in cur.fetchall()]


def _change(row: tuple[Any, ...]) -> ConfigChange:
    version, scope, settings, changed_by, changed_at = row
    return ConfigChange(version, Scope.parse(scope), settings, changed_by, changed_at)


class PgCommandStore:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def issue(self, host: str, kind: CommandKind, issued_by: str) -> Command:
        with self.connector.transaction() as cur:
            cur.execute(sql.ISSUE, (host, kind, issued_by))
            command_id, issued_at = cur.fetchone()
        return Command(command_id, host, kind, issued_by, issued_at)

    def newest_pending(self) -> dict[str, int]:
        with self.connector.transaction() as cur:
            cur.execute(sql.NEWEST_PENDING)
            return {host: newest for host, newest in cur.fetchall()}

    def pending(self, host: str) -> list[Command]:
        with self.connector.transaction() as cur:
            cur.execute(sql.PENDING, (host,))
            return [Command(*row) for row in cur.fetchall()]

    def ack(self, host: str, command_id: int, result: Mapping[str, Any]) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.ACK, (Json(dict(result)), command_id, host))
            return bool(cur.rowcount)

    def recent(self, host: str | None, limit: int) -> list[Command]:
        with self.connector.transaction() as cur:
            cur.execute(sql.RECENT, {"host": host, "limit": limit})
            return [Command(*row) for row in cur.fetchall()]
