"""Readers of the query API: PostgreSQL tiers and the Redis hot tier."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import redis

from hostpulse import hot
from hostpulse.answers import (
    CompactSample,
    HostFactsView,
    LatestSample,
    ProcessPoint,
    ProcessRow,
)
from hostpulse.query import HostRow, Point, SequenceSpan
from hostpulse.store import sql
from hostpulse.store.postgres import PgConnector
from hostpulse.tiers import Tier

PROCESS_COLUMNS = (
    "pid",
    "name",
    "cmdline",
    "user",
    "cpu_percent",
    "rss_bytes",
    "threads",
    "read_bytes_per_s",
    "write_bytes_per_s",
    "read_bytes_total",
    "write_bytes_total",
    "open_files",
    "status",
)


HISTORY_COLUMNS = (
    "name",
    "cpu_percent",
    "rss_bytes",
    "threads",
    "read_bytes_per_s",
    "write_bytes_per_s",
    "open_files",
    "status",
)


class PgMetricReader:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def hosts(self) -> list[HostRow]:
        with self.connector.transaction() as cur:
            cur.execute(sql.LIST_HOSTS)
            return [HostRow(*row) for row in cur.fetchall()]

    def metrics(self, host: str) -> list[str]:
        with self.connector.transaction() as cur:
            cur.execute(sql.HOST_METRICS, (host,))
            return [row[0] for row in cur.fetchall()]

    def series(
        self,
        host: str,
        metrics: Sequence[str],
        tier: Tier,
        start: datetime,
        end: datetime,
        step_s: int,
    ) -> dict[str, list[Point]]:
        statement = (
            sql.SERIES_RAW if tier.name == "raw" else sql.SERIES_ROLLUP.format(table=tier.table)
        )
        found: dict[str, list[Point]] = {}
        with self.connector.transaction() as cur:
            cur.execute(sql.SERIES_IDS, (host, list(metrics)))
            names = dict(cur.fetchall())
            if not names:
                return found
            params = {"ids": list(names), "start": start, "end": end, "step": step_s}
            cur.execute(statement, params)
            for series_id, ts, lo, hi, avg, n in cur.fetchall():
                point = Point(int(ts), float(lo), float(hi), float(avg), int(n))
                found.setdefault(names[series_id], []).append(point)
        return found

    def process_history(
        self, host: str, pid: int, start: datetime, end: datetime
    ) -> list[ProcessPoint]:
        with self.connector.transaction() as cur:
            cur.execute(sql.PROCESS_HISTORY, (host, pid, start, end))
            rows = cur.fetchall()
        return [
            cast(ProcessPoint, {"ts_ms": int(ts), **dict(zip(HISTORY_COLUMNS, rest, strict=True))})
            for ts, *rest in rows
        ]

    def sequence_spans(self, window_s: int) -> list[SequenceSpan]:
        with self.connector.transaction() as cur:
            cur.execute(sql.BATCH_COMPLETENESS, (window_s,))
            return [SequenceSpan(*row) for row in cur.fetchall()]

    def latest_processes(self, host: str) -> tuple[int, list[ProcessRow]] | None:
        with self.connector.transaction() as cur:
            cur.execute(sql.LATEST_PROCESSES, (host, host))
            rows = cur.fetchall()
        if not rows:
            return None
        processes = [dict(zip(PROCESS_COLUMNS, row[1:], strict=True)) for row in rows]
        return int(rows[0][0]), cast(list[ProcessRow], processes)


class RedisHotReader:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def last_seen(self) -> dict[str, int]:
        try:
            pairs: list[tuple[bytes, float]] = self.client.zrange(  # type: ignore[assignment]
                hot.HOSTS, 0, -1, withscores=True
            )
        except redis.RedisError:
            return {}  # the hot tier is an accelerator; PostgreSQL still answers
        return {member.decode(): int(score) for member, score in pairs}

    def facts(self) -> dict[str, HostFactsView]:
        try:
            stored: dict[bytes, bytes] = self.client.hgetall(hot.FACTS)  # type: ignore[assignment]
        except redis.RedisError:
            return {}
        return {host.decode(): json.loads(value) for host, value in stored.items()}

    def window(self, host: str, since_ms: int) -> list[CompactSample]:
        try:
            members: list[bytes] = self.client.zrangebyscore(  # type: ignore[assignment]
                hot.window_key(host), f"({since_ms}", "+inf"
            )
        except redis.RedisError:
            return []
        return [hot.parse_compact(member) for member in members]

    def newest(self, hosts: Sequence[str]) -> dict[str, CompactSample]:
        pipe = self.client.pipeline(transaction=False)
        for host in hosts:
            pipe.zrange(hot.window_key(host), -1, -1)
        try:
            found: list[list[bytes]] = pipe.execute()
        except redis.RedisError:
            return {}
        return {
            host: hot.parse_compact(top[0]) for host, top in zip(hosts, found, strict=True) if top
        }

    def latest(self, host: str) -> LatestSample | None:
        try:
            raw = self.client.hget(hot.latest_key(host), "sample")
        except redis.RedisError:
            return None
        if raw is None:
            return None
        data: LatestSample = json.loads(raw)
        return data
