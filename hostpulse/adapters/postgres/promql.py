"""PromQL's series source on PostgreSQL: the catalogue of series as Prometheus labels, and
their points from the tier a query reads."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import cache

import orjson

from hostpulse.adapters.postgres import metrics_sql
from hostpulse.adapters.postgres import promql_sql as sql
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import TIERS, series_edges
from hostpulse.core.prometheus_names import HOST_LABEL, prometheus_series, stored_patterns
from hostpulse.core.tiers import Tier, TierChoice, read_chain
from hostpulse.services.promql.model import (
    NAME,
    BucketStats,
    Labels,
    StoredSeries,
    labels_of,
    too_many_series,
)
from hostpulse.services.promql.params import clamped
from hostpulse.services.promql.ports import Matcher

Candidate = tuple[int, str, Labels]  # series id, host, labels


READ_PARTS = 2  # the two cores of a small server, or of a Lambda of 3,538 MB and more
SPLIT_FROM = 64  # series: fewer are read in one go


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=READ_PARTS, thread_name_prefix="promql-read")


def as_time(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=clamped(ms))


def series_labels(host: str, metric: str, host_labels: dict[str, str]) -> Labels | None:
    named = prometheus_series(metric)
    if named is None:
        return None
    if named.exact:
        return labels_of({**named.labels, NAME: named.name})
    labels = {**host_labels, **named.labels, HOST_LABEL: host, NAME: named.name}
    return labels_of(labels)


def narrowed(matchers: Sequence[Matcher]) -> tuple[list[str] | None, list[str] | None]:
    """The metric patterns and hosts the equality matchers narrow the catalogue to."""
    patterns = hosts = None
    for m in matchers:
        if m.op == "=" and m.name == NAME:
            patterns = stored_patterns(m.value)
        elif m.op == "=" and m.name == HOST_LABEL:
            hosts = [m.value.lower()]  # the stored host is lower-case (a label may not be)
    return patterns, hosts


class PgSeriesSource:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def candidates(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[Candidate]:
        patterns, hosts = narrowed(matchers)
        params = {
            "patterns": patterns,
            "hosts": hosts,
            "start": as_time(start_ms),
            "end": as_time(end_ms),
        }
        with self.connector.transaction() as cur:
            cur.execute(sql.CATALOGUE, params)
            rows = cur.fetchall()
        found = []
        host_labels: dict[str, dict[str, str]] = {}
        for series_id, host, metric, labels_text in rows:
            own = host_labels.get(host)
            if own is None:
                own = host_labels[host] = orjson.loads(labels_text)
            labels = series_labels(host, metric, own)
            if labels is None:
                continue
            values = dict(labels)
            if all(m.matches(values.get(m.name, "")) for m in matchers):
                found.append((series_id, host, labels))
        return found

    def label_sets(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, limit: int
    ) -> list[Labels]:
        return [labels for _, _, labels in self.candidates(matchers, start_ms, end_ms)[: limit + 1]]

    def select(
        self, matchers: Sequence[Matcher], span: tuple[int, int], tier: Tier, max_series: int
    ) -> list[StoredSeries]:
        start_ms, end_ms = span
        chosen = self.candidates(matchers, start_ms, end_ms)
        if len(chosen) > max_series:
            raise too_many_series(len(chosen), max_series)
        if not chosen:
            return []
        ids = [series_id for series_id, _, _ in chosen]
        hosts = [host for _, host, _ in chosen]  # each id's own host
        points = self.points(ids, hosts, start_ms, end_ms, tier)
        answer = []
        for series_id, _, labels in chosen:
            flat = points.get(series_id)
            if flat:
                answer.append(stored(labels, flat, tier))
        return answer

    def points(
        self, ids: list[int], hosts: list[str], start_ms: int, end_ms: int, tier: Tier
    ) -> dict[int, list[float]]:
        """Every series' points; many series are read in parts on connections of their own at
        once, so that PostgreSQL spends more than one core on a fleet's read."""
        statement, bounds = self.read_of(tier, start_ms, end_ms)
        if len(ids) < SPLIT_FROM:
            return self.part(statement, {"ids": ids, "hosts": hosts, **bounds})
        size = -(-len(ids) // READ_PARTS)
        parts = [
            {"ids": ids[i : i + size], "hosts": hosts[i : i + size], **bounds}
            for i in range(0, len(ids), size)
        ]
        found: dict[int, list[float]] = {}
        for answer in _pool().map(lambda params: self.part(statement, params), parts):
            found |= answer
        return found

    def read_of(self, tier: Tier, start_ms: int, end_ms: int) -> tuple[str, dict[str, object]]:
        """The statement that reads the tier over the span, and its bounds: for a rolled tier,
        where each tier of its chain hands over to the next (their watermarks, read once)."""
        if not tier.rolled:
            return sql.RAW_POINTS, {"start": as_time(start_ms), "end": as_time(end_ms + 1)}
        width = tier.resolution_s * 1000
        with self.connector.transaction() as cur:
            cur.execute(metrics_sql.TIER_WATERMARKS)
            watermarks = dict(cur.fetchall())
        choice = TierChoice(tier, tier.resolution_s)
        first = as_time(start_ms - start_ms % width)
        bounds: dict[str, object] = dict(
            series_edges(choice, watermarks, first, as_time(end_ms + 1))
        )
        tables = tuple(
            (t.table, 0 if not t.rolled else t.resolution_s * 1000) for t in read_chain(TIERS, tier)
        )
        return sql.chain_points(tables), bounds

    def part(self, statement: str, params: dict[str, object]) -> dict[int, list[float]]:
        with self.connector.transaction() as cur:
            cur.execute(statement, params)
            return {series_id: orjson.loads(text) for series_id, text in cur if text is not None}


# A rolled point's fields, in the order the chain read writes them.
POINT_FIELDS = ("start", "width", "t", "last", "min", "max", "sum", "count", "first", "first_t",
                "reset_sum")  # fmt: skip


def stored(labels: Labels, flat: list[float], tier: Tier) -> StoredSeries:
    if not tier.rolled:  # times come as JSON integers; a value such as 12 too, made a float
        times: list[int] = flat[0::2]  # type: ignore[assignment]  # JSON integers
        return StoredSeries(labels, times, list(map(float, flat[1::2])))
    width = len(POINT_FIELDS)
    starts = [int(s) for s in flat[0::width]]
    ends = [start + int(w) for start, w in zip(starts, flat[1::width], strict=True)]
    times = [int(t) for t in flat[2::width]]
    stats = [
        BucketStats(float(lo), float(hi), float(total), int(count), *counter(first, first_t, fell))
        for lo, hi, total, count, first, first_t, fell in zip(
            *(flat[i::width] for i in range(4, width)), strict=True
        )
    ]
    return StoredSeries(labels, times, [float(v) for v in flat[3::width]], starts, ends, stats)


def counter(
    first: float | None, first_t: float | None, fell: float | None
) -> tuple[float | None, int | None, float | None]:
    """A bucket's first value with its time, and its resets' sum; None where not kept."""
    if first is None or first_t is None:
        return None, None, None
    return float(first), int(first_t), None if fell is None else float(fell)
