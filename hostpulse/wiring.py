"""Builds each component's service from its settings, once per execution environment."""

from __future__ import annotations

from functools import lru_cache

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.aws.queue import S3Archive, SqsBatchQueue
from hostpulse.adapters.notify import LogChannel, SlackChannel, SnsChannel, WebhookChannel
from hostpulse.adapters.postgres.agents import CachedAgentDirectory, PgAgentRepository
from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricReader, PgMetricStore
from hostpulse.adapters.redis import keys as hot
from hostpulse.adapters.redis.client import redis_client
from hostpulse.adapters.redis.hot import (
    RedisAuthThrottle,
    RedisHotReader,
    RedisHotStore,
    RedisRateLimiter,
)
from hostpulse.alerts.service import AlertService
from hostpulse.ingest.ports import Counters
from hostpulse.ingest.service import IngestLimits, IngestService
from hostpulse.query import QueryService
from hostpulse.settings import (
    CoreSettings,
    aggregate_settings,
    alert_settings,
    api_settings,
    core_settings,
    ingest_settings,
)


@lru_cache(maxsize=4)
def pg_connector(url: str, timeout_s: float) -> PgConnector:
    return PgConnector(url, timeout_s)


def _pg(settings: CoreSettings) -> PgConnector:
    return pg_connector(settings.database_url, settings.connect_timeout_seconds)


def archive(settings: CoreSettings, bucket: str) -> S3Archive:
    return S3Archive(aws_client("s3", settings.aws_region, settings.aws_endpoint_url), bucket)


def ingest_service(counters: Counters) -> IngestService:
    settings = ingest_settings()
    redis = redis_client(settings.redis_url, settings.connect_timeout_seconds)
    sqs = aws_client("sqs", settings.aws_region, settings.aws_endpoint_url)
    tiers = settings.tiers
    return IngestService(
        agents=CachedAgentDirectory(PgAgentRepository(_pg(settings)), settings.agent_cache_seconds),
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
        ),
        auth_throttle=RedisAuthThrottle(redis, settings.auth_failures_per_minute),
    )


@lru_cache(maxsize=1)
def metric_store() -> PgMetricStore:
    return PgMetricStore(_pg(core_settings()))


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
def query_service() -> QueryService:
    settings = api_settings()
    return QueryService(
        PgMetricReader(_pg(settings)),
        RedisHotReader(redis_client(settings.redis_url, settings.connect_timeout_seconds)),
        settings.tiers,
        settings.max_points,
        settings.stale_after_seconds,
        settings.down_after_seconds,
        int(settings.tiers[0].retention.total_seconds()),  # completeness over the raw tier
    )
