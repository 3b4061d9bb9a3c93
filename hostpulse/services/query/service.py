"""Answers of the query API: hosts with status, series from the right tier, latest snapshot."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from hostpulse.core.contract import canonical_host, has_glob, metric_matches
from hostpulse.core.responses import (
    AtAGlance,
    Completeness,
    HostEntry,
    HostFactsView,
    HostStatus,
    LatestAnswer,
    LatestSample,
    ProcessHistory,
    RecentAnswer,
    SeriesAnswer,
    SeriesPoint,
)
from hostpulse.core.seed_compat import SeedSnapshotAnswer, seed_snapshot
from hostpulse.core.tiers import RangeError, RangeQuery, Tier, choose_tier
from hostpulse.services.query.ports import HotReader, MetricReader

MAX_SERIES = 256


def natural_key(name: str) -> list[int | str]:
    """cpu.core:2 before cpu.core:10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class EncodedJson:
    """A value already written as JSON by the store, going out as written instead of becoming
    Python objects first. (Not a dataclass: JSON encoders would write a dataclass as an object
    of its fields.)"""

    __slots__ = ("json",)

    def __init__(self, json: str) -> None:
        self.json = json

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.json!r})"


@dataclass(frozen=True)
class HostRow:
    host: str
    agent_id: str
    facts: EncodedJson  # as stored: the host list passes it through
    first_seen_ms: int
    last_seen_ms: int
    last_received_ms: int
    unnumbered: bool  # sent by the seed agent or over OTLP: batches numbered by time


@dataclass(frozen=True)
class SequenceSpan:
    """The batches one agent delivered for a host: how many, and the lowest and highest seq."""

    host: str
    agent_id: str
    received: int
    first_seq: int
    last_seq: int


def completeness(spans: list[SequenceSpan]) -> Completeness:
    """Received against expected batches, from the gaps in each agent's sequence numbers."""
    received = sum(s.received for s in spans)
    expected = sum(s.last_seq - s.first_seq + 1 for s in spans)
    return {
        "batches": received,
        "missing_batches": expected - received,
        "percent": round(100.0 * received / expected, 2) if expected else None,
    }


class EncodedPoints(EncodedJson):
    """A series' points, already JSON: one array of ``[ts_ms, avg, min, max, count]`` arrays in
    time order, the answer's columns. A view's thousands of points go out as the store wrote
    them."""

    __slots__ = ()

    @classmethod
    def of(cls, points: Iterable[Sequence[float]]) -> EncodedPoints:
        return cls(json.dumps([list(point) for point in points], allow_nan=False))


NO_POINTS = EncodedPoints("[]")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_time(ms: int) -> datetime:
    """Unix milliseconds as an aware datetime, exactly (a float of seconds can miss by 1 µs)."""
    return EPOCH + timedelta(milliseconds=ms)


class NotFound(LookupError):
    pass


def host_status(last_seen_ms: int, now_ms: int, stale_s: int, down_s: int) -> HostStatus:
    age_s = (now_ms - last_seen_ms) / 1000
    if age_s <= stale_s:
        return "live"
    return "stale" if age_s <= down_s else "down"


@dataclass(frozen=True)
class HostAges:
    """When a silent host counts as stale and as down, and how far back completeness looks."""

    stale_s: int = 30
    down_s: int = 120
    completeness_window_s: int = 24 * 3600
    glance_s: int = 600  # a silent host's last figures are shown as long as the hot tier keeps it


class QueryService:
    def __init__(
        self,
        reader: MetricReader,
        hot: HotReader,
        tiers: Sequence[Tier],
        max_points: int,
        ages: HostAges = HostAges(),
    ) -> None:
        self.reader = reader
        self.hot = hot
        self.tiers = tiers
        self.max_points = max_points
        self.ages = ages

    def hosts(self, now: datetime) -> list[HostEntry]:
        now_ms = int(now.timestamp() * 1000)
        glances = self.hot.glances()  # one read: when ingest last saw each host, and its figures
        spans: dict[str, list[SequenceSpan]] = {}
        for span in self.reader.sequence_spans(self.ages.completeness_window_s):
            spans.setdefault(span.host, []).append(span)
        answer: list[HostEntry] = []
        for row in self.reader.hosts():
            glance = glances.get(row.host)
            answer.append(
                self._entry(
                    row.host,
                    max(row.last_seen_ms, glance["ts_ms"] if glance else 0),
                    glance,
                    now_ms,
                    agent_id=row.agent_id,
                    first_seen_ms=row.first_seen_ms,
                    last_received_ms=row.last_received_ms,
                    # The seed's snapshots and OTLP carry time, not a sequence: no gaps to count.
                    completeness=None if row.unnumbered else completeness(spans.get(row.host, [])),
                    facts=cast(HostFactsView, row.facts),
                )
            )
        known = {row["host"] for row in answer}
        # A spelling from before hosts took one (migration 0015) lingers in the hot tier until
        # its keys expire: not a host of its own.
        new_hosts = sorted(h for h in glances if h not in known and h == canonical_host(h))
        facts = self.hot.facts() if new_hosts else {}
        for host in new_hosts:  # seen by ingest, not yet aggregated
            glance = glances[host]
            answer.append(
                self._entry(
                    host,
                    glance["ts_ms"],
                    glance,
                    now_ms,
                    agent_id=None,
                    first_seen_ms=glance["ts_ms"],
                    last_received_ms=None,
                    completeness=None,
                    facts=facts.get(host, {}),
                )
            )
        return answer

    def _entry(  # noqa: PLR0913 -- one host's entry, from PostgreSQL or from the hot tier
        self,
        host: str,
        last_seen_ms: int,
        glance: AtAGlance | None,
        now_ms: int,
        *,
        agent_id: str | None,
        first_seen_ms: int,
        last_received_ms: int | None,
        completeness: Completeness | None,
        facts: HostFactsView,
    ) -> HostEntry:
        # A silent host's last figures are shown only as long as the hot tier would keep them.
        shown = glance is not None and glance["ts_ms"] >= now_ms - self.ages.glance_s * 1000
        return {
            "host": host,
            "agent_id": agent_id,
            "status": host_status(last_seen_ms, now_ms, self.ages.stale_s, self.ages.down_s),
            "last_seen_ms": last_seen_ms,
            "first_seen_ms": first_seen_ms,
            "last_received_ms": last_received_ms,
            "completeness": completeness,
            "facts": facts,
            "now": glance if shown else None,
        }

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


__all__ = ["EncodedJson", "EncodedPoints", "HostRow", "NotFound", "QueryService", "RangeError"]
