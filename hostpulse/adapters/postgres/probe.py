"""Health probe of PostgreSQL behind the ``Probe`` protocol."""

from __future__ import annotations

import psycopg2


class PostgresProbe:
    name = "postgres"

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.url = url
        self.timeout = max(1, round(timeout_seconds))

    def check(self) -> tuple[bool, str]:
        try:
            conn = psycopg2.connect(self.url, connect_timeout=self.timeout)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
            finally:
                conn.close()
        except psycopg2.Error as error:
            return False, type(error).__name__
        return True, "ok"
