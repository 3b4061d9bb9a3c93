"""The pipeline minute by minute: what ingest and aggregation tally, how a minute is closed,
and the history in columns with gaps where no minute was kept."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostpulse.core.best_effort import Guard
from hostpulse.core.responses import PipelineAnswer, QueueHealth
from hostpulse.services.self_monitoring.history import (
    LATENCY_BOUNDS_MS,
    MAX_HISTORY_MINUTES,
    MINUTE_MS,
    PipelineMeter,
    PipelineRecorder,
    histogram_quantile,
    history_answer,
    latency_bucket,
    recent_totals,
)
from tests.fakes import MemoryCounters, MemoryPipelineHistory, MemoryTally

T0 = 1_790_000_040_000  # a minute's start


def seen(lag: float | None = 3.0, waiting: int = 4, dead: int = 0) -> PipelineAnswer:
    queue: QueueHealth = {
        "waiting": waiting, "in_flight": 2, "delayed": 1, "dead_letters": dead,
        "oldest_dead_letter_age_s": None,
    }  # fmt: skip
    return {
        "status": "ok", "queues": {"aggregate": queue}, "newest_ingested_ms": None,
        "newest_stored_ms": None, "aggregate_lag_s": lag, "lag_bound_s": 120, "problems": [],
    }  # fmt: skip


def test_a_closed_minute_holds_what_ingest_and_aggregation_tallied_in_it() -> None:
    tally, history = MemoryTally(), MemoryPipelineHistory()
    meter = PipelineMeter(tally)
    for elapsed in (4, 8, 20, 30, 900):
        meter.answered(202, 10, elapsed, T0 + 1000)
    meter.answered(401, 0, 2, T0 + 2000)
    meter.answered(503, 0, 3, T0 + 59_999)
    meter.answered(202, 10, 5, T0 + MINUTE_MS)  # the next minute: not in this one
    meter.aggregated(stored=5, failed=1, now_ms=T0 + 30_000)
    meter.aggregated(stored=0, failed=0, now_ms=T0 + 31_000)  # nothing to add: no write

    row = PipelineRecorder(tally, history, keep_ms=10 * MINUTE_MS).record(
        seen(lag=3.5, waiting=4), T0 + MINUTE_MS + 5000
    )

    assert row.minute_ms == T0
    assert (row.ingest_batches, row.ingest_samples) == (5, 50)
    assert (row.ingest_refused, row.ingest_failed) == (1, 1)
    assert row.latency_avg_ms == pytest.approx((4 + 8 + 20 + 30 + 900 + 2 + 3) / 7)
    assert row.latency_p95_ms is not None and 500 < row.latency_p95_ms <= 1000
    assert (row.aggregate_stored, row.aggregate_failed) == (5, 1)
    assert row.lag_s == 3.5
    assert row.queues == {"aggregate": {"waiting": 5, "in_flight": 2, "dead_letters": 0}}
    assert history.rows == {T0: row}
    assert tally.calls == 9


def test_every_door_s_2xx_is_an_accepted_batch_and_values_over_budget_are_tallied() -> None:
    tally, history = MemoryTally(), MemoryPipelineHistory()
    meter = PipelineMeter(tally)
    meter.answered(202, 2, 5, T0 + 1000)  # an agent's batch
    meter.answered(200, 1, 5, T0 + 2000)  # OTLP
    meter.answered(204, 3, 5, T0 + 3000)  # remote write
    meter.over_budget(7, T0 + 3000)
    meter.over_budget(0, T0 + 4000)  # nothing left out: no write
    row = PipelineRecorder(tally, history, keep_ms=10 * MINUTE_MS).record(seen(), T0 + MINUTE_MS)
    assert (row.ingest_batches, row.ingest_samples, row.ingest_refused) == (3, 6, 0)
    assert row.series_over_budget == 7
    answer = history_answer(history, T0, T0)
    assert answer["series_over_budget"] == [7]


def test_a_quiet_minute_is_a_row_of_zeros_without_latency() -> None:
    tally, history = MemoryTally(), MemoryPipelineHistory()

    row = PipelineRecorder(tally, history, keep_ms=MINUTE_MS).record(seen(lag=None), T0 + 61_000)

    assert (row.ingest_batches, row.ingest_failed, row.aggregate_stored) == (0, 0, 0)
    assert (row.latency_avg_ms, row.latency_p95_ms, row.lag_s) == (None, None, None)


def test_rows_older_than_the_1m_tier_are_forgotten() -> None:
    tally, history = MemoryTally(), MemoryPipelineHistory()
    recorder = PipelineRecorder(tally, history, keep_ms=3 * MINUTE_MS)
    for minute in range(6):
        recorder.record(seen(), T0 + (minute + 1) * MINUTE_MS)

    assert sorted(history.rows) == [T0 + m * MINUTE_MS for m in (2, 3, 4, 5)]


def test_aggregation_goes_on_when_the_tally_is_away_and_tries_again_after_the_cooldown() -> None:
    tally, counters, now = MemoryTally(), MemoryCounters(), [0.0]
    meter = PipelineMeter(tally, Guard(counters, cooldown_s=10, clock=lambda: now[0]))
    tally.down = True

    for _ in range(5):
        meter.aggregated(stored=1, failed=0, now_ms=T0)  # never raises
    assert tally.calls == 1, "one timeout paid, then left alone"
    assert counters.counts["tally_failures"] == 1

    tally.down, now[0] = False, 11.0
    meter.aggregated(stored=2, failed=0, now_ms=T0)
    assert tally.read(T0) == {"aggregate_stored": 2.0, "aggregate_failed": 0.0}


def test_the_history_is_every_minute_of_the_range_with_gaps_as_null() -> None:
    history = MemoryPipelineHistory()
    tally = MemoryTally()
    recorder = PipelineRecorder(tally, history, keep_ms=60 * MINUTE_MS)
    PipelineMeter(tally).answered(202, 7, 12, T0)
    recorder.record(seen(dead=2), T0 + MINUTE_MS)
    recorder.record(seen(), T0 + 3 * MINUTE_MS)  # the minute T0 + 1 min was never closed

    answer = history_answer(history, T0 + 30_000, T0 + 2 * MINUTE_MS + 10)

    assert answer["minutes_ms"] == [T0, T0 + MINUTE_MS, T0 + 2 * MINUTE_MS]
    assert answer["ingest_samples"] == [7, None, 0]
    assert answer["queues"]["aggregate"]["dead_letters"] == [2, None, 0]
    assert answer["step_s"] == 60


def test_a_range_longer_than_a_week_keeps_its_newest_week() -> None:
    answer = history_answer(MemoryPipelineHistory(), 0, T0)

    assert len(answer["minutes_ms"]) == MAX_HISTORY_MINUTES
    assert answer["minutes_ms"][-1] == T0


def test_latency_buckets_are_upper_bounds_inclusive() -> None:
    assert latency_bucket(5) == "latency_le_5"
    assert latency_bucket(5.01) == "latency_le_10"
    assert latency_bucket(10_001) == "latency_le_inf"


@given(st.lists(st.floats(0, 20_000), min_size=1, max_size=300), st.floats(0.01, 1.0))
def test_the_quantile_lies_in_the_bucket_holding_the_true_one(
    latencies: list[float], q: float
) -> None:
    tally = MemoryTally()
    meter = PipelineMeter(tally)
    for elapsed in latencies:
        meter.answered(202, 1, elapsed, T0)
    estimate = histogram_quantile(q, tally.read(T0))
    ordered = sorted(latencies)
    true = ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # the observation ranked q
    bounds = (0, *LATENCY_BOUNDS_MS)
    upper = next((b for b in LATENCY_BOUNDS_MS if true <= b), None)
    assert estimate is not None
    if upper is None:  # in the open bucket: the largest bound, as Prometheus answers
        assert estimate == LATENCY_BOUNDS_MS[-1]
    else:
        lower = max(b for b in bounds if b < upper)
        assert lower - 1e-9 <= estimate <= upper + 1e-9, (true, estimate)


def test_no_answers_have_no_quantile() -> None:
    assert histogram_quantile(0.95, {}) is None
    assert histogram_quantile(0.5, {"latency_le_inf": 0.0, "answers": random.random()}) is None


def test_recent_totals_add_up_the_closed_minutes_of_the_window() -> None:
    tally, history = MemoryTally(), MemoryPipelineHistory()
    recorder, meter = PipelineRecorder(tally, history, keep_ms=3_600_000), PipelineMeter(tally)
    for minute in range(20):
        start = T0 + minute * MINUTE_MS
        meter.answered(202, 5, 20 if minute < 19 else 3000, start)
        meter.answered(503, 0, 1, start)
        meter.aggregated(stored=1, failed=minute % 2, now_ms=start)
        recorder.record(seen(), start + MINUTE_MS)

    recent = recent_totals(history, T0 + 20 * MINUTE_MS + 30_000, minutes=15)

    assert recent.minutes == 15
    assert (recent.ingest_batches, recent.ingest_failed, recent.ingest_refused) == (15, 15, 0)
    assert (recent.aggregate_stored, recent.aggregate_failed) == (15, 8)  # minutes 5..19
    assert recent.worst_latency_p95_ms is not None and recent.worst_latency_p95_ms > 1000
