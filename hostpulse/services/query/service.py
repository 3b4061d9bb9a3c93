"""Answers of the query API: the fleet, series from the right tier, the hot window, the latest
snapshot, a process's history."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from hostpulse.core.contract import has_glob, metric_matches
from hostpulse.core.responses import (
    HostEntry,
    HostList,
    LatestAnswer,
    LatestSample,
    ProcessHistory,
    RecentAnswer,
    SeriesAnswer,
    SeriesPoint,
)
from hostpulse.core.seed_compat import SeedSnapshotAnswer, seed_snapshot
from hostpulse.core.tiers import RangeError, RangeQuery, Tier, choose_tier
from hostpulse.services.query.fleet import DEFAULT_AGES, HostAges, fleet_hosts
from hostpulse.services.query.ports import HotReader, MetricReader
from hostpulse.services.query.rows import NO_POINTS, ms_time

MAX_SERIES = 256


def natural_key(name: str) -> list[int | str]:
    """cpu.core:2 before cpu.core:10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class NotFound(LookupError):
    pass


class QueryService:
    def __init__(
        self,
        reader: MetricReader,
        hot: HotReader,
        tiers: Sequence[Tier],
        max_points: int,
        ages: HostAges = DEFAULT_AGES,
    ) -> None:
        self.reader = reader
        self.hot = hot
        self.tiers = tiers
        self.max_points = max_points
        self.ages = ages

    def hosts(self, now: datetime, retired: bool = False) -> HostList:
        """The fleet, with how many retired hosts it leaves out; ``retired``: those instead."""
        hosts, left_out = fleet_hosts(self.reader, self.hot, self.ages, now, retired=retired)
        answer: HostList = {"hosts": hosts}
        if left_out:
            answer["retired"] = left_out
        return answer

    def host(self, host: str, now: datetime) -> HostEntry | None:
        """One host's entry of the fleet (retired or not), without reading the whole fleet."""
        entries, _ = fleet_hosts(self.reader, self.hot, self.ages, now, only=host)
        return entries[0] if entries else None

    def series(
        self,
        host: str,
        metrics: Sequence[str],
        asked: RangeQuery,
        now: datetime,
        max_points: int | None = None,
    ) -> SeriesAnswer:
        """Several metrics of one host on one time axis; ``cpu.core:*`` style globs expand."""
        budget = min(max_points or self.max_points, self.max_points)
        choice = choose_tier(self.tiers, asked, now, budget)
        names, missing = self.expand(host, metrics)
        start, end = asked.start, asked.end
        found = self.reader.series(host, names, choice, start, end)
        return {
            "host": host,
            "tier": choice.tier.name,
            "step_s": choice.step_s,
            "from_ms": int(start.timestamp() * 1000),
            "to_ms": int(end.timestamp() * 1000),
            "columns": ["ts_ms", "avg", "min", "max", "count"],
            "series": [
                {
                    "metric": name,
                    "points": cast(list[SeriesPoint], found.get(name, NO_POINTS)),
                }
                for name in names
            ],
            "missing": missing,
        }

    def expand(self, host: str, patterns: Sequence[str]) -> tuple[list[str], list[str]]:
        """The host's metric names the patterns ask for, and the exact names it has none of.

        A name the host never sent is not an error while others are found (a host that reports
        through the seed endpoint has no ``cpu.user``): only a query that finds nothing at all
        for an exact name is a 404.
        """
        known = self.reader.metrics(host)
        if not known:
            self.require_host(host)
        names: list[str] = []
        missing: list[str] = []
        for pattern in patterns:
            matches = [name for name in known if metric_matches(pattern, name)]
            if not matches and not has_glob(pattern):
                missing.append(pattern)
            names += sorted((m for m in matches if m not in names), key=natural_key)
        if missing and not names:
            raise NotFound(f"host {host!r} has no metric {missing[0]!r}")
        if len(names) > MAX_SERIES:
            raise RangeError(f"{len(names)} series asked for; at most {MAX_SERIES} per query")
        return names, missing

    def require_host(self, host: str) -> None:
        if not self.reader.host_known(host):
            raise NotFound(f"unknown host {host!r}")

    def recent(self, host: str, now: datetime, seconds: int) -> RecentAnswer:
        """The hot window: every sample as sent, the live views' starting point."""
        since_ms = int(now.timestamp() * 1000) - seconds * 1000
        samples = self.hot.window(host, since_ms)
        if not samples and host not in self.hot.last_seen():
            self.require_host(host)
        return {"host": host, "from_ms": since_ms, "samples": samples}

    def seed_recent(
        self, host: str | None, now: datetime, seconds: int
    ) -> list[SeedSnapshotAnswer]:
        """``GET /api/metrics/recent`` of the seed platform: one host's hot window as seed
        snapshots, the newest with its top processes. No host: the one seen last."""
        if host is None:
            seen = self.hot.last_seen()
            if not seen:
                return []
            host = max(seen, key=lambda name: seen[name])
        samples = self.recent(host, now, seconds)["samples"]
        if not samples:
            return []
        # The seed keeps the top processes with every snapshot: the stored samples' from
        # PostgreSQL, the newest one's from the hot tier when it is not stored yet. A sample
        # ingest saw but aggregation has not stored yet goes out without them.
        processes = self.reader.processes_between(
            host, ms_time(samples[0]["ts"]), ms_time(samples[-1]["ts"] + 1)
        )
        latest = self.hot.latest(host)
        if latest is not None:
            processes.setdefault(latest["ts_ms"], latest.get("processes", []))
        return [seed_snapshot(host, s, processes.get(s["ts"], [])) for s in samples]

    def process_history(
        self, host: str, pid: int, start: datetime, end: datetime
    ) -> ProcessHistory:
        points = self.reader.process_history(host, pid, start, end)
        if not points:
            self.require_host(host)
        return {"host": host, "pid": pid, "points": points}

    def hot_latest(self, host: str) -> LatestSample | None:
        """The newest full sample in the hot tier, if the host sent one lately."""
        return self.hot.latest(host)

    def latest(self, host: str) -> LatestAnswer:
        snapshot = self.hot.latest(host)
        if snapshot is not None:
            return {"host": host, "source": "hot", "sample": snapshot}
        stored = self.reader.latest_processes(host)
        if stored is None:
            raise NotFound(f"no recent snapshot of host {host!r}")
        ts_ms, processes = stored
        return {"host": host, "source": "raw", "sample": {"ts_ms": ts_ms, "processes": processes}}
