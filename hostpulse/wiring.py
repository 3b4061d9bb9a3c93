"""The one place that builds components: each service from its settings, once per execution
environment, and the adapters the CLI and the local cloud need from a URL. Entry points
(functions, API, CLI, local cloud) ask here and never build adapters themselves."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from hostpulse.accounts import NO_THROTTLE, Accounts
from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.aws.queue import (
    S3Archive,
    SqsBatchQueue,
    SqsDeadLetters,
    SqsDestination,
    SqsQueueDepth,
)
from hostpulse.adapters.aws.secrets import read_secret_values
from hostpulse.adapters.aws.worker import SqsMessageSource
from hostpulse.adapters.checkpoint import CheckpointMismatch, FileCheckpoint
from hostpulse.adapters.notify import LogChannel, SlackChannel, SnsChannel, WebhookChannel
from hostpulse.adapters.postgres import migrate as migrations
from hostpulse.adapters.postgres.accounts import PgAccountStore
from hostpulse.adapters.postgres.agent_config import PgAgentConfigStore, PgCommandStore
from hostpulse.adapters.postgres.agents import CachedAgentDirectory, PgAgentRepository
from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricReader, PgMetricStore
from hostpulse.adapters.postgres.pipeline import PgPipelineHistory
from hostpulse.adapters.postgres.probe import PostgresProbe
from hostpulse.adapters.redis import keys as hot
from hostpulse.adapters.redis.client import redis_client
from hostpulse.adapters.redis.counters import RedisCounterStore
from hostpulse.adapters.redis.hot import (
    RedisAuthThrottle,
    RedisDrainFlag,
    RedisHotReader,
    RedisHotStore,
    RedisRateLimiter,
)
from hostpulse.adapters.redis.live import RedisLiveSource
from hostpulse.adapters.redis.pipeline import RedisMinuteTally
from hostpulse.adapters.redis.probe import RedisProbe
from hostpulse.agent_config import AgentConfigs
from hostpulse.agent_control import AgentControl, CommandStore
from hostpulse.alerts.service import AlertService
from hostpulse.guard import Guard
from hostpulse.health import Probe
from hostpulse.ingest.ports import Counters
from hostpulse.ingest.service import IngestLimits, IngestService
from hostpulse.live import LiveHub
from hostpulse.pipeline import PipelineWatch, WatchedQueue
from hostpulse.pipeline_history import PipelineMeter, PipelineRecorder
from hostpulse.query import HostAges, QueryService
from hostpulse.rollup import RollupSchedule
from hostpulse.settings import (
    CoreSettings,
    IngestSettings,
    PipelineSettings,
    aggregate_settings,
    alert_settings,
    api_settings,
    core_settings,
    ingest_settings,
    read_secrets_with,
)

T = TypeVar("T")

# Every component that builds its settings has come through here: a secret the environment
# names is read with the adapter's client.
read_secrets_with(read_secret_values)

# Allocations (less deallocations) between young collections; Python's default is 700. Reading
# a group of 100 queued batches makes about 13,000 objects, alive until the group is written:
# at 700, some 20 young collections a group walked and promoted them all, and older
# collections walked them again (about 3 ms a group, measured in the aggregate benchmark).
# Cyclic garbage, which only a collection frees, waits at most this many allocations.
YOUNG_COLLECTION_THRESHOLD = 20_000


def settle_heap() -> None:
    """Puts everything alive now (modules, the app, clients kept for the execution environment)
    out of the garbage collector's reach: a full collection, which a request's garbage sets off
    every few requests, then walks only what came after. The API's 92,000 objects at start
    took 80 ms per full collection, a pause in every twentieth host list. A young collection
    waits for ``YOUNG_COLLECTION_THRESHOLD`` new objects."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


class Lazy(Generic[T]):
    """A handler's component, built on its first use rather than at import (so a handler's
    module loads without settings) and kept for the execution environment. Tests hand in
    their own with ``override``."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None

    def __call__(self) -> T:
        if self._value is None:
            self._value = self._build()
            settle_heap()
        return self._value

    def override(self, value: T | None) -> None:
        """Use ``value`` from now on; None builds afresh on the next use."""
        self._value = value


@lru_cache(maxsize=4)
def pg_connector(url: str, timeout_s: float) -> PgConnector:
    return PgConnector(url, timeout_s)


def _pg(settings: CoreSettings) -> PgConnector:
    return pg_connector(settings.database_url, settings.connect_timeout_seconds)


def archive(settings: CoreSettings, bucket: str) -> S3Archive:
    return S3Archive(aws_client("s3", settings.aws_region, settings.aws_endpoint_url), bucket)


def ingest_service(counters: Counters, settings: IngestSettings | None = None) -> IngestService:
    """The ingest function's service; ``settings`` default to the environment's."""
    settings = settings or ingest_settings()
    redis = redis_client(settings.redis_url, settings.connect_timeout_seconds)
    sqs = aws_client("sqs", settings.aws_region, settings.aws_endpoint_url)
    tiers = settings.tiers
    return IngestService(
        agents=CachedAgentDirectory(
            PgAgentRepository(_pg(settings)),
            settings.agent_cache_seconds,
            settings.agent_cache_stale_seconds,
        ),
        limiter=RedisRateLimiter(
            redis,
            settings.rate_per_second,
            settings.rate_burst,
            hot.draining_key(settings.aggregate_queue_url),
        ),
        queue=SqsBatchQueue(sqs, [settings.aggregate_queue_url, settings.alerts_queue_url]),
        hot=RedisHotStore(
            redis, settings.hot_window_seconds * 1000, 2 * settings.hot_window_seconds * 1000
        ),
        archive=archive(settings, settings.archive_bucket),
        counters=counters,
        limits=IngestLimits(
            max_future_ms=settings.max_future_seconds * 1000,
            max_age_ms=int(tiers[0].retention.total_seconds() * 1000),
            max_hosts_per_request=settings.rate_burst,
        ),
        auth_throttle=RedisAuthThrottle(redis, settings.auth_failures_per_minute),
        meter=PipelineMeter(
            RedisMinuteTally(redis, hot.deployment_id(settings.aggregate_queue_url))
        ),
        control=AgentControl(
            PgAgentConfigStore(_pg(settings)),
            PgCommandStore(_pg(settings)),
            settings.agent_config_cache_seconds,
        ),
        counter_store=RedisCounterStore(redis),
    )


@lru_cache(maxsize=1)
def api_agent_configs() -> AgentConfigs:
    return AgentConfigs(PgAgentConfigStore(_pg(api_settings())))


@lru_cache(maxsize=1)
def api_agent_commands() -> CommandStore:
    return PgCommandStore(_pg(api_settings()))


def agent_commands(database_url: str) -> CommandStore:
    """Commands to agents, as the command line issues and lists them."""
    return PgCommandStore(pg_connector(database_url, 5.0))


def agent_configs(database_url: str) -> AgentConfigs:
    """The central agent configuration, as the command line and the API change it."""
    return AgentConfigs(PgAgentConfigStore(pg_connector(database_url, 5.0)))


def pipeline_meter(counters: Counters) -> PipelineMeter:
    """Aggregation's share of the pipeline's tally; Redis away costs one timeout per 10 s."""
    settings = core_settings()
    redis = redis_client(settings.redis_url, settings.connect_timeout_seconds)
    tally = RedisMinuteTally(redis, hot.deployment_id(settings.aggregate_queue_url))
    return PipelineMeter(tally, Guard(counters))


def pipeline_recorder(settings: CoreSettings) -> PipelineRecorder:
    """The schedule's side: read the minute's tally, keep the row."""
    deployment = hot.deployment_id(settings.aggregate_queue_url)
    return PipelineRecorder(
        RedisMinuteTally(
            redis_client(settings.redis_url, settings.connect_timeout_seconds), deployment
        ),
        PgPipelineHistory(_pg(settings), deployment),
        keep_ms=int(settings.tiers[1].retention.total_seconds() * 1000),
    )


def pipeline_history(database_url: str, aggregate_queue_url: str) -> PgPipelineHistory:
    """A deployment's minutes, for the CLI, which knows the stores by URL."""
    return PgPipelineHistory(
        pg_connector(database_url, 5.0), hot.deployment_id(aggregate_queue_url)
    )


@lru_cache(maxsize=1)
def api_pipeline_history() -> PgPipelineHistory:
    settings = api_settings()
    return PgPipelineHistory(_pg(settings), hot.deployment_id(settings.aggregate_queue_url))


@lru_cache(maxsize=1)
def metric_store() -> PgMetricStore:
    return metric_store_for(core_settings())


def metric_store_for(settings: CoreSettings) -> PgMetricStore:
    return PgMetricStore(_pg(settings))


def rollup_schedule() -> RollupSchedule:
    """One per execution environment: when it next rolls the tiers up."""
    return RollupSchedule(core_settings().tiers)


def claims_retention() -> timedelta:
    """How long which batches were stored is known: the raw tier's retention."""
    return core_settings().tiers[0].retention


@lru_cache(maxsize=1)
def aggregate_archive() -> S3Archive:
    settings = aggregate_settings()
    return archive(settings, settings.archive_bucket)


@lru_cache(maxsize=1)
def alert_store() -> PgAlertStore:
    settings = core_settings()
    return PgAlertStore(_pg(settings))


@lru_cache(maxsize=1)
def alert_service() -> AlertService:
    settings = alert_settings()
    store = PgAlertStore(_pg(settings), settings.rules_cache_seconds)
    sns = aws_client("sns", settings.aws_region, settings.aws_endpoint_url)
    return AlertService(
        store,
        {
            "webhook": WebhookChannel(),
            "slack": SlackChannel(),
            "sns": SnsChannel(sns),
            "log": LogChannel(),
        },
    )


@lru_cache(maxsize=1)
def alert_archive() -> S3Archive:
    settings = alert_settings()
    return archive(settings, settings.archive_bucket)


@lru_cache(maxsize=1)
def accounts() -> Accounts:
    settings = api_settings()
    redis = redis_client(settings.redis_url, settings.connect_timeout_seconds)
    return Accounts(
        PgAccountStore(_pg(settings)),
        timedelta(hours=settings.session_hours),
        RedisAuthThrottle(redis, settings.sign_in_failures_per_minute),
    )


def account_admin(database_url: str) -> Accounts:
    """Users managed from the command line: no sign-ins, so nothing to throttle."""
    return Accounts(PgAccountStore(pg_connector(database_url, 5.0)), timedelta(0), NO_THROTTLE)


@lru_cache(maxsize=1)
def query_service() -> QueryService:
    settings = api_settings()
    return QueryService(
        PgMetricReader(_pg(settings)),
        RedisHotReader(redis_client(settings.redis_url, settings.connect_timeout_seconds)),
        settings.tiers,
        settings.max_points,
        HostAges(
            settings.stale_after_seconds,
            settings.down_after_seconds,
            int(settings.tiers[0].retention.total_seconds()),  # completeness over the raw tier
            2 * settings.hot_window_seconds,  # as long as ingest keeps a silent host's keys
        ),
    )


@lru_cache(maxsize=4)
def pipeline_watch(  # noqa: PLR0913 -- where each part of the pipeline is
    region: str,
    endpoint_url: str | None,
    queues: tuple[tuple[str, str, str | None], ...],  # (name, queue URL, dead-letter URL)
    *,
    redis_url: str,
    database_url: str,
    lag_bound_s: float,
    backlog_bound: int,
    peek: bool = False,
) -> PipelineWatch:
    """What the pipeline view reads; ``peek`` also ages dead-lettered messages (the CLI)."""
    return PipelineWatch(
        {name: WatchedQueue(url, dead) for name, url, dead in queues},
        SqsQueueDepth(aws_client("sqs", region, endpoint_url), peek=peek),
        RedisHotReader(redis_client(redis_url, 2.0)),
        PgMetricReader(pg_connector(database_url, 5.0)),
        lag_bound_s,
        backlog_bound,
    )


def settings_pipeline_watch(settings: PipelineSettings) -> PipelineWatch:
    return pipeline_watch(
        settings.aws_region,
        settings.aws_endpoint_url,
        settings.watched_queues,
        redis_url=settings.redis_url,
        database_url=settings.database_url,
        lag_bound_s=settings.pipeline_lag_bound_seconds,
        backlog_bound=settings.pipeline_backlog_bound,
    )


def api_pipeline_watch() -> PipelineWatch:
    return settings_pipeline_watch(api_settings())


def alerts_pipeline_watch() -> PipelineWatch:
    return settings_pipeline_watch(alert_settings())


@lru_cache(maxsize=1)
def live_hub() -> LiveHub:
    settings = api_settings()
    return LiveHub(RedisLiveSource(settings.redis_url, settings.connect_timeout_seconds))


def health_probes(settings: CoreSettings) -> list[Probe]:
    return [
        PostgresProbe(settings.database_url, settings.connect_timeout_seconds),
        RedisProbe(settings.redis_url, settings.connect_timeout_seconds),
    ]


# -- for the CLI and the local cloud, which know their stores by URL ----------------------------


def worker_queue(region: str, endpoint_url: str | None, queue_url: str) -> SqsMessageSource:
    """A trigger queue as the worker runtime reads it."""
    return SqsMessageSource(aws_client("sqs", region, endpoint_url), queue_url)


def agent_repository(database_url: str) -> PgAgentRepository:
    return PgAgentRepository(pg_connector(database_url, 5.0))


def rule_store(database_url: str, rules_ttl_s: float = 15.0) -> PgAlertStore:
    return PgAlertStore(pg_connector(database_url, 5.0), rules_ttl_s)


def migrate_database(database_url: str) -> list[str]:
    """Applies the migrations not yet applied; their names."""
    return migrations.migrate(database_url)


# What a failed migration raises, for the CLI to report.
MigrationError = migrations.MigrationError


def drain_flag(redis_url: str, aggregate_queue_url: str) -> RedisDrainFlag:
    return RedisDrainFlag(redis_client(redis_url, 2.0), aggregate_queue_url)


def queue_depth(region: str, endpoint_url: str | None) -> SqsQueueDepth:
    return SqsQueueDepth(aws_client("sqs", region, endpoint_url))


# -- replay --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayPlace:
    """Where a stack's queues and archive are: the local cloud's or AWS's."""

    region: str
    endpoint_url: str | None
    bucket: str


def dead_letters(place: ReplayPlace, dead_letter_url: str) -> SqsDeadLetters:
    return SqsDeadLetters(aws_client("sqs", place.region, place.endpoint_url), dead_letter_url)


def replay_destination(place: ReplayPlace, queue_url: str) -> SqsDestination:
    return SqsDestination(aws_client("sqs", place.region, place.endpoint_url), queue_url)


def replay_archive_reader(place: ReplayPlace) -> S3Archive:
    return S3Archive(aws_client("s3", place.region, place.endpoint_url), place.bucket)


def replay_checkpoint(path: Path, replay: str) -> FileCheckpoint:
    return FileCheckpoint(path, replay)


# What a checkpoint of another replay raises, for the CLI to report.
ReplayCheckpointMismatch = CheckpointMismatch
