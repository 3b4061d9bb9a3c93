"""Agents in PostgreSQL, and the ingest function's cached view of them."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import psycopg2

from hostpulse.adapters.postgres import agents_sql as sql
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.ports import AgentRepository
from hostpulse.services.agents.tokens import Agent, AgentExists, AgentGrant, name_taken, token_hash

log = logging.getLogger(__name__)


class PgAgentRepository:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def add(self, name: str, hashed: str, hosts: Sequence[str], fleet: bool = False) -> None:
        try:
            with self.connector.transaction() as cur:
                cur.execute(sql.LOCK_AGENTS)
                cur.execute(sql.PREFIX_RELATIVES, {"name": name})
                clash = name_taken(name, fleet, cur.fetchall())
                if clash is not None:
                    raise clash
                cur.execute(sql.ADD_AGENT, (name, hashed, list(hosts), fleet))
        except psycopg2.errors.UniqueViolation:
            raise AgentExists(
                f"agent {name!r} exists; revoke it first or pick another name"
            ) from None

    def list(self) -> list[Agent]:
        with self.connector.transaction() as cur:
            cur.execute(sql.LIST_AGENTS)
            return [
                Agent(name, created, revoked, tuple(hosts), fleet, label)
                for name, created, revoked, hosts, fleet, label in cur.fetchall()
            ]

    def revoke(self, name: str) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.REVOKE_AGENT, (name,))
            return bool(cur.rowcount)

    def bind(self, name: str, hosts: Sequence[str]) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.BIND_AGENT, (list(hosts), name))
            return bool(cur.rowcount)

    def set_host_label(self, name: str, label: str | None) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.SET_HOST_LABEL, (label, name))
            return bool(cur.rowcount)

    def grant_for_hash(self, hashed: str) -> AgentGrant | None:
        with self.connector.transaction() as cur:
            cur.execute(sql.GRANT_FOR_HASH, (hashed,))
            row: Any = cur.fetchone()
        if row is None:
            return None
        name, hosts, fleet, host_label, taken = row
        return AgentGrant(str(name), tuple(hosts), bool(fleet), frozenset(taken), host_label)


class CachedAgentDirectory:
    """Token lookups cached per execution environment; a revocation applies within ``ttl_s``.

    While PostgreSQL does not answer, a grant looked up less than ``stale_s`` ago still holds:
    batches go on into the queue (which waits for the database) instead of every agent being
    turned away. The price: a token revoked during an outage works until it ends or
    ``stale_s`` passes (docs/security.md)."""

    def __init__(self, repository: AgentRepository, ttl_s: float, stale_s: float = 3600) -> None:
        self.repository = repository
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self._cache: dict[str, tuple[float, AgentGrant | None]] = {}

    def cached_grant(self, token: str) -> AgentGrant | None:
        cached = self._cache.get(token_hash(token))
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        return None

    def grant_for_token(self, token: str) -> AgentGrant | None:
        hashed = token_hash(token)
        now = time.monotonic()
        cached = self._cache.get(hashed)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            grant = self.repository.grant_for_hash(hashed)
        except psycopg2.Error:
            if cached is not None and cached[1] is not None and now - cached[0] < self.stale_s:
                log.warning(
                    "agent store unavailable; using a grant looked up %.0f s ago", now - cached[0]
                )
                return cached[1]
            raise
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[hashed] = (now, grant)
        return grant
