"""The pipeline's own health: queues, dead letters and lag, as JSON and for Prometheus."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from api.dependencies import Now, Pipeline, PipelineMinutes, Reader
from api.params import parse_time
from api.problems import refusals
from hostpulse.core.responses import PipelineAnswer, PipelineHistoryAnswer
from hostpulse.services.self_monitoring.history import history_answer

router = APIRouter(tags=["pipeline"], dependencies=[Reader], responses=refusals(401))


@router.get(
    "/api/v1/pipeline",
    summary="What waits in each queue and dead-letter queue, and how far the tiers are behind",
)
def pipeline(watch: Pipeline, now: Now) -> PipelineAnswer:
    return watch.status(int(now.timestamp() * 1000))


@router.get(
    "/api/v1/pipeline/history",
    summary="The pipeline minute by minute: ingest rate, latency and errors, aggregation, "
    "queues, dead letters and lag (at most the last 7 days of the range)",
    responses=refusals(400),
)
def pipeline_history(
    minutes: PipelineMinutes,
    now: Now,
    from_: Annotated[str, Query(alias="from")] = "-1h",
    to: str = "now",
) -> PipelineHistoryAnswer:
    start, end = parse_time(from_, now, "from"), parse_time(to, now, "to")
    if end <= start:
        raise HTTPException(400, "'to' must be after 'from'")
    return history_answer(minutes, int(start.timestamp() * 1000), int(end.timestamp() * 1000))


def exposition(answer: PipelineAnswer) -> bytes:
    """The answer in Prometheus's text format (a registry of its own per scrape: the values
    are read fresh each time, nothing accumulates in a long-lived process)."""
    registry = CollectorRegistry()
    queue_messages = Gauge(
        "hostpulse_queue_messages",
        "Messages in a queue, by state",
        ["queue", "state"],
        registry=registry,
    )
    dead_letters = Gauge(
        "hostpulse_dead_letter_messages",
        "Messages waiting in a queue's dead-letter queue",
        ["queue"],
        registry=registry,
    )
    for name, queue in answer["queues"].items():
        for state in ("waiting", "in_flight", "delayed"):
            queue_messages.labels(name, state).set(queue[state])  # type: ignore[literal-required]
        dead_letters.labels(name).set(queue["dead_letters"])
    lag = Gauge(
        "hostpulse_aggregate_lag_seconds",
        "How far the PostgreSQL tiers are behind what ingest has put in the hot tier",
        registry=registry,
    )
    lag.set(answer["aggregate_lag_s"] if answer["aggregate_lag_s"] is not None else float("nan"))
    healthy = Gauge(
        "hostpulse_pipeline_healthy", "1 when no queue dead-letters and the lag is in bound",
        registry=registry,
    )  # fmt: skip
    healthy.set(1 if answer["status"] == "ok" else 0)
    newest = Gauge(
        "hostpulse_newest_sample_timestamp_seconds",
        "The newest sample, by where it is",
        ["tier"],
        registry=registry,
    )
    for tier, ms in (("hot", answer["newest_ingested_ms"]), ("stored", answer["newest_stored_ms"])):
        if ms is not None:
            newest.labels(tier).set(ms / 1000)
    return generate_latest(registry)


@router.get(
    "/metrics",
    summary="hostpulse's own health in the Prometheus text format, for an existing Prometheus",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(watch: Pipeline, now: Now) -> PlainTextResponse:
    answer = watch.status(int(now.timestamp() * 1000))
    return PlainTextResponse(exposition(answer), media_type=CONTENT_TYPE_LATEST)
