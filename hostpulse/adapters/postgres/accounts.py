"""Dashboard users and their sessions in PostgreSQL (SQL in ``accounts_sql``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from hostpulse.adapters.postgres import accounts_sql as sql
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.accounts.service import Role, Session, User


class PgAccountStore:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def add_user(self, user: User) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.ADD_USER, (user.name, user.role.value, user.password_hash))
            return bool(cur.rowcount)

    def user(self, name: str) -> User | None:
        with self.connector.transaction() as cur:
            cur.execute(sql.USER, (name,))
            row = cur.fetchone()
        return None if row is None else User(row[0], Role(row[1]), row[2])

    def users(self) -> list[User]:
        with self.connector.transaction() as cur:
            cur.execute(sql.USERS)
            return [User(name, Role(role), hashed) for name, role, hashed in cur.fetchall()]

    def update_user(self, name: str, password_hash: str | None, role: Role | None) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.UPDATE_USER, (password_hash, role.value if role else None, name))
            return bool(cur.rowcount)

    def remove_user(self, name: str) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.REMOVE_USER, (name,))
            return bool(cur.rowcount)

    def add_session(self, token_hash: str, session: Session) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.ADD_SESSION, (token_hash, session.user, session.csrf, session.expires))

    def session(self, token_hash: str, now: datetime) -> Session | None:
        with self.connector.transaction() as cur:
            cur.execute(sql.SESSION, (token_hash, now))
            row = cur.fetchone()
        return None if row is None else Session(row[0], Role(row[1]), row[2], row[3])

    def end_session(self, token_hash: str) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.END_SESSION, (token_hash,))

    def end_sessions_of(self, name: str) -> int:
        with self.connector.transaction() as cur:
            cur.execute(sql.END_SESSIONS_OF, (name,))
            return int(cur.rowcount)

    def dashboard_settings(self, name: str) -> dict[str, Any] | None:
        with self.connector.transaction() as cur:
            cur.execute(sql.DASHBOARD_SETTINGS, (name,))
            row = cur.fetchone()
        return None if row is None else dict(row[0])

    def save_dashboard_settings(self, name: str, settings: dict[str, Any]) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.SAVE_DASHBOARD_SETTINGS, (Json(settings), name))
            return bool(cur.rowcount)
