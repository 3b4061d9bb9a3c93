"""The pipeline view from in-memory queues and tiers: dead letters and lag make it degraded."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.routers.pipeline import exposition
from hostpulse.services.self_monitoring.watch import PipelineWatch, QueueStats, WatchedQueue

NOW = 1_700_000_000_000


@dataclass
class MemoryGauge:
    queues: dict[str, QueueStats] = field(default_factory=dict)
    oldest: dict[str, float] = field(default_factory=dict)

    def stats(self, queue_url: str) -> QueueStats:
        return self.queues.get(queue_url, QueueStats(0, 0, 0))

    def oldest_age_s(self, queue_url: str, now_ms: int) -> float | None:
        return self.oldest.get(queue_url)


@dataclass
class Newest:
    ms: int | None

    def newest_ms(self) -> int | None:
        return self.ms

    def newest_stored_ms(self) -> int | None:
        return self.ms


def watch(gauge: MemoryGauge, ingested: int | None, stored: int | None) -> PipelineWatch:
    queues = {"aggregate": WatchedQueue("q/aggregate", "q/aggregate-dlq")}
    return PipelineWatch(queues, gauge, Newest(ingested), Newest(stored), 60, backlog_bound=500)


def test_an_idle_healthy_pipeline_is_ok() -> None:
    answer = watch(MemoryGauge(), NOW - 600_000, NOW - 600_000).status(NOW)

    assert answer["status"] == "ok" and answer["problems"] == []
    assert answer["aggregate_lag_s"] == 0.0  # quiet fleet: nothing waits, so no lag


def test_a_backlog_in_a_queue_makes_it_degraded_and_says_so() -> None:
    gauge = MemoryGauge({"q/aggregate": QueueStats(400, 10, 101)})
    queues = {"aggregate": WatchedQueue("q/aggregate", "q/aggregate-dlq")}
    watched = PipelineWatch(queues, gauge, Newest(NOW), Newest(NOW), 60, backlog_bound=500)

    answer = watched.status(NOW)

    # Before, a backlog with no lag (the alerts queue has none to show) was "ok".
    assert answer["status"] == "degraded"
    assert answer["problems"] == [
        "501 message(s) wait in the aggregate queue (bound 500): what they carry is late,"
        " aggregate work waits behind them"
    ]
    gauge.queues["q/aggregate"] = QueueStats(500, 10, 0)
    assert watched.status(NOW)["status"] == "ok"


def test_dead_letters_make_it_degraded_and_say_how_to_replay() -> None:
    gauge = MemoryGauge(
        {"q/aggregate": QueueStats(4, 2, 0), "q/aggregate-dlq": QueueStats(3, 0, 0)},
        {"q/aggregate-dlq": 125.0},
    )

    answer = watch(gauge, NOW, NOW).status(NOW)

    assert answer["queues"]["aggregate"] == {
        "waiting": 4,
        "in_flight": 2,
        "delayed": 0,
        "dead_letters": 3,
        "oldest_dead_letter_age_s": 125.0,
    }
    assert answer["status"] == "degraded"
    assert "hostpulse replay dlq aggregate" in answer["problems"][0]


def test_tiers_behind_ingest_beyond_the_bound_make_it_degraded() -> None:
    answer = watch(MemoryGauge(), NOW, NOW - 90_000).status(NOW)

    assert answer["aggregate_lag_s"] == 90.0
    assert answer["status"] == "degraded" and "90 s behind" in answer["problems"][0]


def test_nothing_stored_yet_counts_from_the_newest_ingested_sample() -> None:
    answer = watch(MemoryGauge(), NOW - 30_000, None).status(NOW)

    assert answer["aggregate_lag_s"] == 30.0 and answer["status"] == "ok"


def test_the_prometheus_exposition_carries_every_figure() -> None:
    gauge = MemoryGauge(
        {"q/aggregate": QueueStats(4, 2, 1), "q/aggregate-dlq": QueueStats(3, 0, 0)}
    )

    text = exposition(watch(gauge, NOW, NOW - 5_000).status(NOW)).decode()

    assert 'hostpulse_queue_messages{queue="aggregate",state="waiting"} 4.0' in text
    assert 'hostpulse_queue_messages{queue="aggregate",state="delayed"} 1.0' in text
    assert 'hostpulse_dead_letter_messages{queue="aggregate"} 3.0' in text
    assert "hostpulse_aggregate_lag_seconds 5.0" in text
    assert "hostpulse_pipeline_healthy 0.0" in text
    assert 'hostpulse_newest_sample_timestamp_seconds{tier="stored"} 1.699999995e+09' in text


class Away:
    def newest_ms(self) -> int | None:
        raise ConnectionError("refused")

    def newest_stored_ms(self) -> int | None:
        raise TimeoutError("no answer")


def test_a_store_that_does_not_answer_is_a_problem_not_an_error() -> None:
    queues = {"aggregate": WatchedQueue("q/aggregate", "q/aggregate-dlq")}
    answer = PipelineWatch(queues, MemoryGauge(), Away(), Away(), 60, 500).status(NOW)

    assert answer["status"] == "degraded" and answer["aggregate_lag_s"] is None
    assert answer["problems"] == [
        "Redis (the hot tier) does not answer: ConnectionError",
        "PostgreSQL (the tiers) does not answer: TimeoutError",
    ]
