"""The scheduled functions, the health function and the query API's Lambda handler, in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from fastapi import FastAPI
from mangum import Mangum

from api import lambda_handler
from api.app import create_app
from api.dependencies import get_now, get_query_service
from functions.alerts_tick import handler as alerts_tick
from functions.health import handler as health
from functions.retention import handler as retention
from hostpulse.core.partitions import partition_name
from hostpulse.core.settings import ApiSettings
from hostpulse.core.tiers import default_tiers
from hostpulse.services.aggregate.retention import ScheduledRetention
from hostpulse.services.alerts.rules import load_rule_set
from hostpulse.services.alerts.runs import AlertTick
from hostpulse.services.alerts.service import AlertService
from hostpulse.services.query.service import QueryService
from hostpulse.services.self_monitoring.history import PipelineRecorder
from hostpulse.services.self_monitoring.watch import (
    PipelineCheck,
    PipelineWatch,
    QueueStats,
    WatchedQueue,
)
from tests.alert_fakes import MemoryAlertStore, RecordingChannel
from tests.events import api_gateway_event, scheduled_event
from tests.fakes import MemoryPartitions, MemoryPipelineHistory, MemoryTally
from tests.unit.test_query_api import NOW, MemoryHot, MemoryReader


def test_retention_drops_only_the_days_every_tier_has_outlived(
    hand_in: Any, context: LambdaContext
) -> None:
    today = datetime.now(UTC).date()
    old, recent = today - timedelta(days=3), today
    store = MemoryPartitions(
        {"samples_raw": [partition_name("samples_raw", d) for d in (old, recent)]}
    )
    tidied: list[int] = []

    def tidy(now_ms: int) -> dict[str, list[str]]:
        tidied.append(now_ms)
        return {"retired": ["db-9"]}

    hand_in(retention.retention, ScheduledRetention(store, default_tiers(), tidy))

    answer = retention.handler(scheduled_event(), context)

    assert answer == {"dropped": [partition_name("samples_raw", old)], "retired": ["db-9"]}
    assert store.dropped == answer["dropped"]
    assert len(tidied) == 1  # the fleet tidied once, after the partitions


def test_the_alert_tick_fires_for_a_host_gone_silent(hand_in: Any, context: LambdaContext) -> None:
    rules = load_rule_set("rules:\n  - {name: HostSilent, absent_for: 1m, notify: [log]}\n")
    store = MemoryAlertStore(rules)
    long_ago = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp() * 1000)
    store.seen["db-1"] = (long_ago, {})
    channel = RecordingChannel()
    service = AlertService(store, {"log": channel})
    pipeline = quiet_pipeline(dead_letters=0)
    history = MemoryPipelineHistory()
    hand_in(
        alerts_tick.tick,
        AlertTick(
            service,
            PipelineCheck(
                service, pipeline, PipelineRecorder(MemoryTally(), history, keep_ms=3_600_000)
            ),
        ),
    )

    answer = alerts_tick.handler(scheduled_event(), context)

    assert answer["fired"] == 1 and answer["delivered"] == 1
    [minute] = history.rows.values()  # the minute that just ended, kept for the history
    assert minute.queues == {"aggregate": {"waiting": 0, "in_flight": 0, "dead_letters": 0}}
    assert [(sent["rule"], sent["host"]) for _, sent in channel.sent] == [("HostSilent", "db-1")]
    assert answer["pipeline"] == "ok"


def quiet_pipeline(dead_letters: int) -> PipelineWatch:
    queue_stats = {"dlq": QueueStats(dead_letters, 0, 0)}

    @dataclass
    class Gauge:
        def stats(self, queue_url: str) -> QueueStats:
            return queue_stats.get(queue_url, QueueStats(0, 0, 0))

        def oldest_age_s(self, queue_url: str, now_ms: int) -> float | None:
            return None

    @dataclass
    class Nothing:
        def newest_ms(self) -> int | None:
            return None

        def newest_stored_ms(self) -> int | None:
            return None

    queues = {"aggregate": WatchedQueue("queue", "dlq")}
    return PipelineWatch(queues, Gauge(), Nothing(), Nothing(), lag_bound_s=120, backlog_bound=500)


def test_the_alert_tick_alerts_on_the_pipelines_dead_letters(
    hand_in: Any, context: LambdaContext
) -> None:
    rules = load_rule_set(
        "rules:\n  - {name: PipelineDeadLetters, metric: 'pipeline.dead_letters:*', op: '>',"
        " threshold: 0, hosts: {names: [hostpulse-pipeline]}, notify: [log]}\n"
    )
    channel = RecordingChannel()
    service = AlertService(MemoryAlertStore(rules), {"log": channel})
    pipeline = quiet_pipeline(dead_letters=3)
    recorder = PipelineRecorder(MemoryTally(), MemoryPipelineHistory(), keep_ms=3_600_000)
    hand_in(alerts_tick.tick, AlertTick(service, PipelineCheck(service, pipeline, recorder)))

    answer = alerts_tick.handler(scheduled_event(), context)

    assert answer["pipeline"] == "degraded"
    [(_, sent)] = channel.sent
    assert (sent["rule"], sent["host"], sent["value"]) == (
        "PipelineDeadLetters",
        "hostpulse-pipeline",
        3.0,
    )


@dataclass
class FixedProbe:
    name: str
    healthy: bool

    def check(self) -> tuple[bool, str]:
        return self.healthy, "ok" if self.healthy else "OperationalError"


def test_health_answers_503_naming_what_is_down(hand_in: Any, context: LambdaContext) -> None:
    hand_in(health.probes, [FixedProbe("postgres", False), FixedProbe("redis", True)])

    answer = health.handler(api_gateway_event("GET", "/health"), context)

    assert answer["statusCode"] == 503
    body = json.loads(answer["body"])
    assert body["status"] == "degraded"
    assert body["components"]["postgres"] == {"healthy": False, "detail": "OperationalError"}
    # and as the seed platform's dashboard reads them
    assert (body["postgres"], body["redis"]) == ("disconnected", "connected")


def api_with_memory_stores() -> FastAPI:
    app = create_app(
        ApiSettings(
            database_url="postgresql://unused", redis_url="redis://unused", public_read=True
        )
    )
    service = QueryService(MemoryReader(), MemoryHot(), default_tiers(), max_points=1000)
    app.dependency_overrides[get_query_service] = lambda: service
    app.dependency_overrides[get_now] = lambda: NOW
    return app


def test_the_query_api_answers_through_api_gateway(hand_in: Any, context: LambdaContext) -> None:
    hand_in(lambda_handler.adapter, Mangum(api_with_memory_stores(), lifespan="off"))
    event = api_gateway_event(
        "GET",
        "/api/v1/series",
        resource="/{proxy+}",
        path_parameters={"proxy": "api/v1/series"},
        query={"host": "web-1", "metric": "cpu.percent", "from": "-1h"},
    )

    answer = lambda_handler.handler(event, context)  # type: ignore[arg-type]
    nobody = api_gateway_event("GET", "/api/v1/hosts/nobody/latest", resource="/{proxy+}")
    missing = lambda_handler.handler(nobody, context)  # type: ignore[arg-type]

    assert answer["statusCode"] == 200, answer["body"]
    body = json.loads(answer["body"])
    assert body["host"] == "web-1" and [s["metric"] for s in body["series"]] == ["cpu.percent"]
    assert missing["statusCode"] == 404


def test_a_minute_that_cannot_be_kept_does_not_hide_the_pipelines_status(
    hand_in: Any, context: LambdaContext
) -> None:
    class Away(MemoryPipelineHistory):
        def put(self, minute: Any, keep_ms: int) -> None:
            raise ConnectionError("PostgreSQL is away")

    service = AlertService(MemoryAlertStore(load_rule_set("rules: []\n")), {})
    pipeline = quiet_pipeline(dead_letters=0)
    hand_in(
        alerts_tick.tick,
        AlertTick(
            service,
            PipelineCheck(
                service, pipeline, PipelineRecorder(MemoryTally(), Away(), keep_ms=60_000)
            ),
        ),
    )

    answer = alerts_tick.handler(scheduled_event(), context)

    assert answer["pipeline"] == "ok"
    assert answer["fired"] == 0
