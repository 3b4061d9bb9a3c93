"""Each service built from its settings, once per execution environment (an entry point keeps
it in a ``Lazy``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from functools import lru_cache

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.aws.queue import (
    S3Archive,
    SqsBatchQueue,
    SqsQueueDepth,
)
from hostpulse.adapters.notify import (
    AlertmanagerChannel,
    LogChannel,
    SlackChannel,
    SnsChannel,
    WebhookChannel,
)
from hostpulse.adapters.postgres.accounts import PgAccountStore
from hostpulse.adapters.postgres.agent_config import PgAgentConfigStore, PgCommandStore
from hostpulse.adapters.postgres.agents import CachedAgentDirectory, PgAgentRepository
from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.hosts import PgHostRegistry
from hostpulse.adapters.postgres.metrics import PgMetricReader, PgMetricStore
from hostpulse.adapters.postgres.pipeline import PgPipelineHistory
from hostpulse.adapters.postgres.probe import PostgresProbe
from hostpulse.adapters.postgres.promql import PgSeriesSource
from hostpulse.adapters.postgres.rule_groups import PgRuleGroups
from hostpulse.adapters.redis import keys as hot
from hostpulse.adapters.redis.client import redis_client
from hostpulse.adapters.redis.counters import RedisCounterStore
from hostpulse.adapters.redis.hot import (
    RedisAuthThrottle,
    RedisHotHosts,
    RedisHotReader,
    RedisHotStore,
    RedisRateLimiter,
)
from hostpulse.adapters.redis.live import RedisLiveSource
from hostpulse.adapters.redis.metadata import RedisMetadataStore
from hostpulse.adapters.redis.pipeline import RedisMinuteTally
from hostpulse.adapters.redis.probe import RedisProbe
from hostpulse.adapters.redis.series_budget import RedisSeriesBudget
from hostpulse.core.best_effort import Guard
from hostpulse.core.ports import Counters
from hostpulse.core.settings import (
    CoreSettings,
    IngestSettings,
    PipelineSettings,
    aggregate_settings,
    alert_settings,
    api_settings,
    core_settings,
    ingest_settings,
)
from hostpulse.services.accounts.service import Accounts
from hostpulse.services.agents.config import AgentConfigs
from hostpulse.services.agents.control import AgentControl
from hostpulse.services.agents.ports import CommandStore
from hostpulse.services.aggregate.retention import ScheduledRetention
from hostpulse.services.aggregate.rollup import RollupSchedule
from hostpulse.services.aggregate.service import Aggregation
from hostpulse.services.alerts.rule_groups import RuleGroupRunner, instant_query
from hostpulse.services.alerts.runs import AlertTick, QueuedEvaluation
from hostpulse.services.alerts.service import AlertService
from hostpulse.services.fleet.service import FleetLifecycle
from hostpulse.services.ingest.service import IngestLimits, IngestService
from hostpulse.services.promql.service import PromQLService, QueryLimits
from hostpulse.services.query.fleet import HostAges
from hostpulse.services.query.live import LiveHub
from hostpulse.services.query.service import QueryService
from hostpulse.services.self_monitoring.history import PipelineMeter, PipelineRecorder
from hostpulse.services.self_monitoring.ports import Probe
from hostpulse.services.self_monitoring.watch import PipelineCheck, PipelineWatch, WatchedQueue


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
            series_per_host=settings.series_per_host,
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
        # A host's known series are forgotten once its 1-minute tier has let them go too.
        series_budget=RedisSeriesBudget(redis, int(tiers[1].retention.total_seconds() * 1000)),
        metadata=RedisMetadataStore(redis),
    )


@lru_cache(maxsize=1)
def api_agent_configs() -> AgentConfigs:
    return AgentConfigs(PgAgentConfigStore(_pg(api_settings())))


@lru_cache(maxsize=1)
def api_agent_commands() -> CommandStore:
    return PgCommandStore(_pg(api_settings()))


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


@lru_cache(maxsize=1)
def api_pipeline_history() -> PgPipelineHistory:
    settings = api_settings()
    return PgPipelineHistory(_pg(settings), hot.deployment_id(settings.aggregate_queue_url))


@lru_cache(maxsize=1)
def metric_store() -> PgMetricStore:
    return metric_store_for(core_settings())


def metric_store_for(settings: CoreSettings) -> PgMetricStore:
    return PgMetricStore(_pg(settings))


def aggregation_for(counters: Counters) -> Aggregation:
    """One per execution environment, with its own rollup schedule. Which batches were stored is
    known as long as the raw tier keeps its rows."""
    settings = core_settings()
    store = metric_store()
    return Aggregation(
        store=store,
        roller=store,
        archive=aggregate_archive(),
        counters=counters,
        meter=pipeline_meter(counters),
        rollups=RollupSchedule(settings.tiers),
        claims_kept=settings.tiers[0].retention,
    )


@lru_cache(maxsize=1)
def aggregate_archive() -> S3Archive:
    settings = aggregate_settings()
    return archive(settings, settings.archive_bucket)


@lru_cache(maxsize=1)
def alert_store() -> PgAlertStore:
    settings = core_settings()
    return PgAlertStore(_pg(settings))


@lru_cache(maxsize=1)
def fleet_lifecycle() -> FleetLifecycle:
    return fleet_lifecycle_for(core_settings())


def scheduled_retention() -> ScheduledRetention:
    return ScheduledRetention(
        metric_store(), core_settings().tiers, lambda now_ms: asdict(fleet_lifecycle().tidy(now_ms))
    )


def fleet_lifecycle_for(settings: CoreSettings) -> FleetLifecycle:
    """Retiring and forgetting hosts: PostgreSQL's rows, the hot tier's keys, and the alerts a
    host that leaves still fires (resolved into the outbox; the alerts schedule delivers)."""
    redis = redis_client(settings.redis_url, settings.connect_timeout_seconds)
    alerts = AlertService(PgAlertStore(_pg(settings)), {})
    return FleetLifecycle(
        PgHostRegistry(_pg(settings)),
        RedisHotHosts(redis),
        alerts.host_left,
        retire_after_ms=int(settings.retire_after_days * 86_400_000),
        history_ms=int(max(t.retention for t in settings.tiers).total_seconds() * 1000),
        hot_keep_ms=2 * settings.hot_window_seconds * 1000,  # as ingest keeps a silent host's
    )


@lru_cache(maxsize=1)
def rule_groups() -> PgRuleGroups:
    return PgRuleGroups(_pg(core_settings()))


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
            "alertmanager": AlertmanagerChannel(),
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


@lru_cache(maxsize=1)
def promql_service() -> PromQLService:
    settings = api_settings()
    limits = QueryLimits(
        timeout_s=settings.promql_timeout_seconds,
        max_series=settings.promql_max_series,
        max_samples=settings.promql_max_samples,
    )
    redis = redis_client(settings.redis_url, settings.connect_timeout_seconds)
    return PromQLService(
        PgSeriesSource(_pg(settings)),
        settings.tiers,
        limits,
        metadata_source=RedisMetadataStore(redis),
    )


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


def queued_evaluation(counters: Counters) -> QueuedEvaluation:
    return QueuedEvaluation(alert_service(), alert_archive(), counters)


def alert_tick() -> AlertTick:
    service = alert_service()
    settings = alert_settings()
    recorder = pipeline_recorder(settings)
    check = PipelineCheck(service, alerts_pipeline_watch(), recorder)
    return AlertTick(service, check, rule_group_runner(settings, service))


def rule_group_runner(settings: CoreSettings, service: AlertService) -> RuleGroupRunner:
    """Prometheus rule groups: their expressions through the PromQL engine, their recording
    rules' results written as the aggregate worker writes."""
    promql = PromQLService(PgSeriesSource(_pg(settings)), settings.tiers)
    return RuleGroupRunner(
        PgRuleGroups(_pg(settings)),
        instant_query(promql),
        metric_store_for(settings),
        service.channels,
        service.store.rule_set,
    )


@lru_cache(maxsize=1)
def live_hub() -> LiveHub:
    settings = api_settings()
    return LiveHub(RedisLiveSource(settings.redis_url, settings.connect_timeout_seconds))


def health_probes(settings: CoreSettings) -> list[Probe]:
    return [
        PostgresProbe(settings.database_url, settings.connect_timeout_seconds),
        RedisProbe(settings.redis_url, settings.connect_timeout_seconds),
    ]
