"""The pipeline's own health: what waits in each queue and its dead-letter queue, and how far
the PostgreSQL tiers are behind what ingest already put in the hot tier.

The lag compares the newest sample the hot tier holds (written by ingest as it answers) with the
newest one stored in PostgreSQL (written by aggregation): an idle fleet has no lag, a stalled
aggregation has a growing one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hostpulse.core.responses import PipelineAnswer, QueueHealth
from hostpulse.services.self_monitoring.history import PipelineRecorder
from hostpulse.services.self_monitoring.ports import (
    NewestIngested,
    NewestStored,
    QueueGauge,
    ValueRules,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueStats:
    waiting: int
    in_flight: int
    delayed: int


@dataclass(frozen=True)
class WatchedQueue:
    url: str
    dead_letter_url: str | None = None


def _asked(question: Callable[[], int | None], what: str, problems: list[str]) -> int | None:
    """A store's answer, or None with the problem said: the view must work when one is away."""
    try:
        return question()
    except Exception as error:  # the store's own errors: unreachable, timed out
        problems.append(f"{what} does not answer: {type(error).__name__}")
        return None


@dataclass(frozen=True)
class PipelineWatch:
    queues: Mapping[str, WatchedQueue]
    gauge: QueueGauge
    ingested: NewestIngested
    stored: NewestStored
    lag_bound_s: float
    # Messages waiting in one queue beyond which what they carry is late: the alerts queue has
    # no lag of its own to show, and a backlog there delays every notification behind it.
    backlog_bound: int

    def status(self, now_ms: int) -> PipelineAnswer:
        queues, gauge, lag_bound_s = self.queues, self.gauge, self.lag_bound_s
        answer_queues: dict[str, QueueHealth] = {}
        problems: list[str] = []
        for name, queue in queues.items():
            stats = gauge.stats(queue.url)
            dead = gauge.stats(queue.dead_letter_url) if queue.dead_letter_url else None
            dead_letters = dead.waiting + dead.in_flight + dead.delayed if dead else 0
            oldest = (
                gauge.oldest_age_s(queue.dead_letter_url, now_ms)
                if queue.dead_letter_url and dead_letters
                else None
            )
            answer_queues[name] = {
                "waiting": stats.waiting,
                "in_flight": stats.in_flight,
                "delayed": stats.delayed,
                "dead_letters": dead_letters,
                "oldest_dead_letter_age_s": oldest,
            }
            backlog = stats.waiting + stats.delayed
            if backlog > self.backlog_bound:
                problems.append(
                    f"{backlog} message(s) wait in the {name} queue (bound {self.backlog_bound}):"
                    f" what they carry is late, {name} work waits behind them"
                )
            if dead_letters:
                problems.append(
                    f"{dead_letters} message(s) in the {name} dead-letter queue: "
                    f"fix the cause, then `hostpulse replay dlq {name}`"
                )
        newest_ingested = _asked(self.ingested.newest_ms, "Redis (the hot tier)", problems)
        newest_stored = _asked(self.stored.newest_stored_ms, "PostgreSQL (the tiers)", problems)
        lag = None
        if newest_ingested is not None:
            # Nothing stored yet: at least as long as the newest ingested sample has waited.
            behind = (
                newest_ingested - newest_stored
                if newest_stored is not None
                else now_ms - newest_ingested
            )
            lag = max(0.0, behind / 1000)
        if lag is not None and lag > lag_bound_s:
            problems.append(f"the tiers are {lag:.0f} s behind ingest (bound {lag_bound_s:.0f} s)")
        return {
            "status": "degraded" if problems else "ok",
            "queues": answer_queues,
            "newest_ingested_ms": newest_ingested,
            "newest_stored_ms": newest_stored,
            "aggregate_lag_s": lag,
            "lag_bound_s": lag_bound_s,
            "problems": problems,
        }


# The pipeline as a host of its own, so that alert rules watch it like any other: select it
# with `hosts: {names: [hostpulse-pipeline]}` and the metrics below.
PIPELINE_HOST = "hostpulse-pipeline"
PIPELINE_LABELS = {"component": "pipeline"}


def pipeline_values(answer: PipelineAnswer) -> dict[str, float]:
    """``pipeline.dead_letters:<queue>``, ``pipeline.waiting:<queue>``, ``pipeline.lag_seconds``."""
    values: dict[str, float] = {}
    for name, queue in answer["queues"].items():
        values[f"pipeline.dead_letters:{name}"] = float(queue["dead_letters"])
        values[f"pipeline.waiting:{name}"] = float(queue["waiting"] + queue["delayed"])
    if answer["aggregate_lag_s"] is not None:
        values["pipeline.lag_seconds"] = answer["aggregate_lag_s"]
    return values


def watch_pipeline(rules: ValueRules, watch: PipelineWatch, now_ms: int) -> PipelineAnswer:
    """The schedule's look at the pipeline: its figures go through the alert rules."""
    answer = watch.status(now_ms)
    rules.evaluate_values(PIPELINE_HOST, dict(PIPELINE_LABELS), pipeline_values(answer), now_ms)
    return answer


@dataclass
class PipelineCheck:
    """The alert schedule's look at the pipeline, and the minute that just ended kept for its
    history. Queues or stores away: logged, and the tick's host checks still run."""

    rules: ValueRules
    watch: PipelineWatch
    recorder: PipelineRecorder

    def __call__(self, now_ms: int) -> str:
        status = "unknown"
        try:
            answer = watch_pipeline(self.rules, self.watch, now_ms)
            status = answer["status"]
            self.recorder.record(answer, now_ms)
        except Exception:
            log.exception("pipeline check or its minute failed", extra={"pipeline": status})
        return status
