"""The pipeline over time: one row per minute of what ingest answered and how fast, what
aggregation stored or failed, what waited in each queue and how far the tiers were behind.

Ingest and aggregation add to the current minute's tally (in Redis, shared by every execution
environment); the alerts schedule closes each minute once: it reads the tally of the minute
that just ended, adds the queues and the lag it sees, and keeps the row in PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hostpulse.core.best_effort import Guard
from hostpulse.core.responses import PipelineAnswer, PipelineHistoryAnswer, QueueHistory
from hostpulse.services.self_monitoring.ports import MinuteTally, PipelineHistory

MINUTE_MS = 60_000
# Upper bounds of the ingest latency histogram, as Prometheus's `le` buckets.
LATENCY_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
MAX_HISTORY_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class PipelineMinute:
    minute_ms: int
    ingest_batches: int  # answered 202
    ingest_samples: int
    ingest_refused: int  # 4xx: bad batches, tokens, rate limits
    ingest_failed: int  # 5xx: queues away, or draining for a shutdown
    latency_avg_ms: float | None
    latency_p95_ms: float | None
    aggregate_stored: int  # batches stored (a redelivered one counts once more)
    aggregate_failed: int  # messages handed back to the queue (retried or dead-lettered)
    lag_s: float | None
    queues: dict[str, dict[str, int]]  # name -> waiting, in_flight, dead_letters
    series_over_budget: int = 0  # values left out: their series was past its host's budget


def minute_of(ms: int) -> int:
    return ms - ms % MINUTE_MS


def latency_bucket(elapsed_ms: float) -> str:
    for bound in LATENCY_BOUNDS_MS:
        if elapsed_ms <= bound:
            return f"latency_le_{bound}"
    return "latency_le_inf"


class PipelineMeter:
    """What ingest and aggregation add to the minute's tally: one write per request or batch.
    Failures are raised: the caller's guard decides how long to leave Redis alone."""

    def __init__(self, tally: MinuteTally, guard: Guard | None = None) -> None:
        self.tally = tally
        self.guard = guard  # when given, failures are counted and swallowed instead

    def answered(self, status: int, samples: int, elapsed_ms: float, now_ms: int) -> None:
        counts: dict[str, float] = {
            "answers": 1,
            "latency_ms_sum": elapsed_ms,
            latency_bucket(elapsed_ms): 1,
        }
        if 200 <= status < 300:  # 202 for a batch, 200 for OTLP, 204 for remote write
            counts |= {"ingest_batches": 1, "ingest_samples": samples}
        elif status >= 500:
            counts["ingest_failed"] = 1
        else:
            counts["ingest_refused"] = 1
        self._add(minute_of(now_ms), counts)

    def over_budget(self, values: int, now_ms: int) -> None:
        if values:
            self._add(minute_of(now_ms), {"series_over_budget": float(values)})

    def aggregated(self, stored: int, failed: int, now_ms: int) -> None:
        if stored or failed:
            counts = {"aggregate_stored": float(stored), "aggregate_failed": float(failed)}
            self._add(minute_of(now_ms), counts)

    def _add(self, minute_ms: int, counts: Mapping[str, float]) -> None:
        if self.guard is None:
            self.tally.add(minute_ms, counts)
        else:
            self.guard.call(lambda: self.tally.add(minute_ms, counts), None, "tally_failures")


def histogram_quantile(q: float, counts: Mapping[str, float]) -> float | None:
    """Prometheus's estimate: the bucket holding the quantile, linear inside it; in the last,
    open bucket the largest finite bound."""
    cumulative: list[tuple[float, float]] = []
    seen = 0.0
    for bound in LATENCY_BOUNDS_MS:
        seen += counts.get(f"latency_le_{bound}", 0.0)
        cumulative.append((float(bound), seen))
    total = seen + counts.get("latency_le_inf", 0.0)
    if total <= 0:
        return None
    rank = q * total
    lower_bound, below = 0.0, 0.0
    for upper, upto in cumulative:
        if upto >= rank:
            inside = upto - below
            return lower_bound + (upper - lower_bound) * ((rank - below) / inside)
        lower_bound, below = upper, upto
    return float(LATENCY_BOUNDS_MS[-1])


def close_minute(minute_ms: int, tally: Mapping[str, float], now: PipelineAnswer) -> PipelineMinute:
    answers = tally.get("answers", 0.0)
    return PipelineMinute(
        minute_ms=minute_ms,
        ingest_batches=int(tally.get("ingest_batches", 0)),
        ingest_samples=int(tally.get("ingest_samples", 0)),
        ingest_refused=int(tally.get("ingest_refused", 0)),
        ingest_failed=int(tally.get("ingest_failed", 0)),
        latency_avg_ms=tally.get("latency_ms_sum", 0.0) / answers if answers else None,
        latency_p95_ms=histogram_quantile(0.95, tally),
        aggregate_stored=int(tally.get("aggregate_stored", 0)),
        aggregate_failed=int(tally.get("aggregate_failed", 0)),
        lag_s=now["aggregate_lag_s"],
        queues={
            name: {
                "waiting": queue["waiting"] + queue["delayed"],
                "in_flight": queue["in_flight"],
                "dead_letters": queue["dead_letters"],
            }
            for name, queue in now["queues"].items()
        },
        series_over_budget=int(tally.get("series_over_budget", 0)),
    )


@dataclass(frozen=True)
class PipelineRecorder:
    """The schedule's side: once a minute, close the minute that just ended."""

    tally: MinuteTally
    history: PipelineHistory
    keep_ms: int  # as long as the 1-minute tier

    def record(self, now: PipelineAnswer, now_ms: int) -> PipelineMinute:
        minute = minute_of(now_ms) - MINUTE_MS
        row = close_minute(minute, self.tally.read(minute), now)
        self.history.put(row, self.keep_ms)
        return row


@dataclass(frozen=True)
class RecentTotals:
    """The last minutes added up: what `hostpulse status` says about errors."""

    minutes: int  # minutes recorded among those asked for
    ingest_batches: int
    ingest_refused: int
    ingest_failed: int
    aggregate_stored: int
    aggregate_failed: int
    worst_latency_p95_ms: float | None


def recent_totals(history: PipelineHistory, now_ms: int, minutes: int = 15) -> RecentTotals:
    last = minute_of(now_ms) - MINUTE_MS
    rows = history.read(last - (minutes - 1) * MINUTE_MS, last)
    latencies = [r.latency_p95_ms for r in rows if r.latency_p95_ms is not None]
    return RecentTotals(
        minutes=len(rows),
        ingest_batches=sum(r.ingest_batches for r in rows),
        ingest_refused=sum(r.ingest_refused for r in rows),
        ingest_failed=sum(r.ingest_failed for r in rows),
        aggregate_stored=sum(r.aggregate_stored for r in rows),
        aggregate_failed=sum(r.aggregate_failed for r in rows),
        worst_latency_p95_ms=max(latencies, default=None),
    )


def history_answer(history: PipelineHistory, since_ms: int, until_ms: int) -> PipelineHistoryAnswer:
    """Every minute of the range, in columns; a minute no row was kept for is null (a gap in
    a chart, not a zero)."""
    first, last = minute_of(since_ms), minute_of(until_ms)
    if (last - first) // MINUTE_MS + 1 > MAX_HISTORY_MINUTES:
        first = last - (MAX_HISTORY_MINUTES - 1) * MINUTE_MS
    rows = {row.minute_ms: row for row in history.read(first, last)}
    minutes = list(range(first, last + 1, MINUTE_MS))
    names = sorted({name for row in rows.values() for name in row.queues})

    def column(field: str) -> list[float | None]:
        values = [getattr(rows[m], field) if m in rows else None for m in minutes]
        return [
            None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values
        ]

    def queue_column(name: str, field: str) -> list[int | None]:
        return [rows[m].queues.get(name, {}).get(field) if m in rows else None for m in minutes]

    queues: dict[str, QueueHistory] = {
        name: {
            "waiting": queue_column(name, "waiting"),
            "in_flight": queue_column(name, "in_flight"),
            "dead_letters": queue_column(name, "dead_letters"),
        }
        for name in names
    }
    return {
        "step_s": MINUTE_MS // 1000,
        "minutes_ms": minutes,
        "ingest_batches": column("ingest_batches"),
        "ingest_samples": column("ingest_samples"),
        "ingest_refused": column("ingest_refused"),
        "ingest_failed": column("ingest_failed"),
        "latency_avg_ms": column("latency_avg_ms"),
        "latency_p95_ms": column("latency_p95_ms"),
        "aggregate_stored": column("aggregate_stored"),
        "aggregate_failed": column("aggregate_failed"),
        "lag_s": column("lag_s"),
        "series_over_budget": column("series_over_budget"),
        "queues": queues,
    }
