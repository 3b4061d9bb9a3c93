"""Agents in PostgreSQL, and the ingest function's cached view of them."""

from __future__ import annotations

import logging
import math
import threading
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
        with self.connector.reading() as cur:
            cur.execute(sql.GRANT_FOR_HASH, (hashed,))
            row: Any = cur.fetchone()
        if row is None:
            return None
        name, hosts, fleet, host_label, taken = row
        return AgentGrant(str(name), tuple(hosts), bool(fleet), frozenset(taken), host_label)

    def directory_version(self) -> int:
        with self.connector.reading() as cur:
            cur.execute(sql.DIRECTORY_VERSION)
            row: Any = cur.fetchone()
        return int(row[0])


class CachedAgentDirectory:
    """Token lookups cached per execution environment, for as long as the agents do not change:
    the directory's version (which every change moves) is read at most every ``ttl_s``, and a
    change drops every cached answer, so a revocation applies within ``ttl_s``. Each answer
    carries the version read before it was looked up: one looked up while a change committed
    is not kept past the next read of the version.

    While PostgreSQL does not answer, the grants known when the version was last read, less
    than ``stale_s`` ago, still hold: batches go on into the queue (which waits for the
    database) instead of every agent being turned away. The price: a token revoked during an
    outage works until it ends or ``stale_s`` passes (docs/security.md)."""

    MAX_ENTRIES = 10_000

    def __init__(self, repository: AgentRepository, ttl_s: float, stale_s: float = 3600) -> None:
        self.repository = repository
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self._cache: dict[str, tuple[int, AgentGrant | None]] = {}
        self._version: int | None = None
        self._verified_at = -math.inf  # time.monotonic() of the last read of the version
        self._lock = threading.Lock()  # requests run in a thread pool

    def cached_grant(self, token: str) -> AgentGrant | None:
        try:
            self._verify(time.monotonic())
        except psycopg2.Error:
            return None  # a look-up decides, by the outage rule
        return self._known(token_hash(token))

    def grant_for_token(self, token: str) -> AgentGrant | None:
        hashed = token_hash(token)
        now = time.monotonic()
        try:
            version = self._verify(now)
            known = self._cache.get(hashed)
            if known is not None and known[0] == version:
                return known[1]
            grant = self.repository.grant_for_hash(hashed)
        except psycopg2.Error as error:
            return self._vouched_for(hashed, now, error)
        with self._lock:
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()
            self._cache[hashed] = (version, grant)
        return grant

    def _verify(self, now: float) -> int:
        """The directory's version, read again once ``ttl_s`` has passed; a new one drops
        every cached answer."""
        if self._version is not None and now - self._verified_at < self.ttl_s:
            return self._version
        version = self.repository.directory_version()
        with self._lock:
            if version != self._version:
                self._cache.clear()
                self._version = version
            self._verified_at = now
        return version

    def _known(self, hashed: str) -> AgentGrant | None:
        known = self._cache.get(hashed)
        return known[1] if known is not None and known[0] == self._version else None

    def _vouched_for(self, hashed: str, now: float, error: psycopg2.Error) -> AgentGrant:
        """The outage rule: a grant known when the directory was last read still holds for
        ``stale_s``; a token never seen, or seen too long ago, cannot be vouched for."""
        grant = self._known(hashed)
        if grant is None or now - self._verified_at >= self.stale_s:
            raise error
        log.warning(
            "agent store unavailable; using a grant known %.0f s ago", now - self._verified_at
        )
        return grant
