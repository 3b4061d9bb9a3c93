"""The adapters the CLI and the local cloud need, which know their stores and queues by URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.aws.queue import (
    S3Archive,
    SqsDeadLetters,
    SqsDestination,
    SqsQueueDepth,
)
from hostpulse.adapters.aws.worker import SqsMessageSource
from hostpulse.adapters.checkpoint import CheckpointMismatch, FileCheckpoint
from hostpulse.adapters.postgres import migrate as migrations
from hostpulse.adapters.postgres.accounts import PgAccountStore
from hostpulse.adapters.postgres.agent_config import PgAgentConfigStore, PgCommandStore
from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.pipeline import PgPipelineHistory
from hostpulse.adapters.postgres.rule_groups import PgRuleGroups
from hostpulse.adapters.redis import keys as hot
from hostpulse.adapters.redis.client import redis_client
from hostpulse.adapters.redis.hot import (
    RedisDrainFlag,
)
from hostpulse.core.settings import CoreSettings
from hostpulse.services.accounts.service import NO_THROTTLE, Accounts
from hostpulse.services.agents.config import AgentConfigs
from hostpulse.services.agents.ports import CommandStore
from hostpulse.services.fleet.service import FleetLifecycle
from hostpulse.wiring import components
from hostpulse.wiring.components import pg_connector


def worker_queue(region: str, endpoint_url: str | None, queue_url: str) -> SqsMessageSource:
    """A trigger queue as the worker runtime reads it."""
    return SqsMessageSource(aws_client("sqs", region, endpoint_url), queue_url)


def agent_repository(database_url: str) -> PgAgentRepository:
    return PgAgentRepository(pg_connector(database_url, 5.0))


def agent_commands(database_url: str) -> CommandStore:
    """Commands to agents, as the command line issues and lists them."""
    return PgCommandStore(pg_connector(database_url, 5.0))


def agent_configs(database_url: str) -> AgentConfigs:
    """The central agent configuration, as the command line and the API change it."""
    return AgentConfigs(PgAgentConfigStore(pg_connector(database_url, 5.0)))


def pipeline_history(database_url: str, aggregate_queue_url: str) -> PgPipelineHistory:
    """A deployment's minutes, for the CLI, which knows the stores by URL."""
    return PgPipelineHistory(
        pg_connector(database_url, 5.0), hot.deployment_id(aggregate_queue_url)
    )


def account_admin(database_url: str) -> Accounts:
    """Users managed from the command line: no sign-ins, so nothing to throttle."""
    return Accounts(PgAccountStore(pg_connector(database_url, 5.0)), timedelta(0), NO_THROTTLE)


def rule_store(database_url: str, rules_ttl_s: float = 15.0) -> PgAlertStore:
    return PgAlertStore(pg_connector(database_url, 5.0), rules_ttl_s)


def fleet_lifecycle(database_url: str, redis_url: str) -> FleetLifecycle:
    return components.fleet_lifecycle_for(
        CoreSettings(database_url=database_url, redis_url=redis_url)
    )


def rule_group_store(database_url: str) -> PgRuleGroups:
    return PgRuleGroups(pg_connector(database_url, 5.0))


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
