"""Settings of the functions and the API: one typed object per component, validated at start."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from hostpulse.core.tiers import Tier, default_tiers

# Where Kubernetes mounts the hostpulse-secrets Secret: each key a file named like the variable
# (HOSTPULSE_DATABASE_URL), read when no variable of that name is set. Credentials then never
# sit in the environment, where child processes and crash reports would see them.
SECRETS_DIR = Path("/run/secrets/hostpulse")
# On AWS a function's credentials live in a secret store (Secrets Manager): its environment
# names the secret, whose value is a JSON object of HOSTPULSE_* names and values, read when the
# settings are built. The reader is an adapter's, handed in by hostpulse.wiring: this floor
# imports no driver.
SETTINGS_SECRET_VARIABLE = "HOSTPULSE_SETTINGS_SECRET"  # noqa: S105 (a name, not a secret)
SecretReader = Callable[[str], Mapping[str, str]]
_secret_readers: list[SecretReader] = []


def read_secrets_with(reader: SecretReader) -> None:
    """How the settings read the secret ``HOSTPULSE_SETTINGS_SECRET`` names."""
    _secret_readers[:] = [reader]


class StoredSecretSource(EnvSettingsSource):
    """The secret's values, as if they were environment variables."""

    def __init__(self, settings_cls: type[BaseSettings], secret_id: str) -> None:
        self.secret_id = secret_id
        super().__init__(settings_cls, case_sensitive=False, env_prefix="HOSTPULSE_")

    def _load_env_vars(self) -> Mapping[str, str | None]:
        if not _secret_readers:
            raise RuntimeError(
                f"{SETTINGS_SECRET_VARIABLE} names a secret, but nothing here can read one"
            )
        values = _secret_readers[0](self.secret_id)
        return {name.lower(): value for name, value in values.items() if value != ""}


class SecretFileSettings(BaseSettings):
    """``HOSTPULSE_*`` settings that also read ``SECRETS_DIR``, when it is there (no warning
    when it is not)."""

    model_config = SettingsConfigDict(
        env_prefix="HOSTPULSE_", extra="ignore", secrets_dir=SECRETS_DIR
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        folder = getattr(file_secret_settings, "secrets_dir", None)
        mounted = isinstance(folder, str | Path) and Path(folder).is_dir()
        secret_id = os.environ.get(SETTINGS_SECRET_VARIABLE, "")
        return (
            (init_settings, env_settings, dotenv_settings)
            + ((file_secret_settings,) if mounted else ())
            + ((StoredSecretSource(settings_cls, secret_id),) if secret_id else ())
        )


class CoreSettings(SecretFileSettings):
    database_url: str = Field(min_length=1)
    redis_url: str = Field(min_length=1)
    connect_timeout_seconds: float = Field(3.0, gt=0)
    raw_retention_hours: float = Field(24, gt=0)
    minute_retention_days: float = Field(7, gt=0)
    hour_retention_days: float = Field(90, gt=0)
    hot_window_seconds: int = Field(300, gt=0)
    # A host down this long is retired (out of the fleet page and of HostSilent).
    retire_after_days: float = Field(7, gt=0)
    # Set by Lambda (and by LocalStack, which also sets the endpoint).
    aws_region: str = Field(
        "us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    # Names the deployment whose pipeline figures these are (several may share Redis and
    # PostgreSQL); ingest sends to it.
    aggregate_queue_url: str | None = None

    @property
    def tiers(self) -> tuple[Tier, ...]:
        return default_tiers(
            raw=timedelta(hours=self.raw_retention_hours),
            minute=timedelta(days=self.minute_retention_days),
            hour=timedelta(days=self.hour_retention_days),
        )


class IngestSettings(CoreSettings):
    aggregate_queue_url: str = Field(min_length=1)
    alerts_queue_url: str = Field(min_length=1)
    archive_bucket: str = Field(min_length=1)
    rate_per_second: float = Field(2.0, gt=0, description="sustained batches/s per agent")
    rate_burst: int = Field(30, ge=1, description="batches an agent may send at once")
    agent_cache_seconds: float = Field(15.0, ge=0)
    agent_config_cache_seconds: float = Field(
        2.0, ge=0, description="how old the central agent configuration an answer names may be"
    )
    agent_cache_stale_seconds: float = Field(
        3600, ge=0, description="how long a known token still works while PostgreSQL is away"
    )
    auth_failures_per_minute: int = Field(
        20, ge=1, description="unknown tokens per client address and minute before a 429"
    )
    max_future_seconds: int = Field(300, ge=0)
    series_per_host: int = Field(
        10_000, ge=1, description="distinct custom series a host may have (the series budget)"
    )


class AggregateSettings(CoreSettings):
    archive_bucket: str = Field(min_length=1)


class PipelineSettings(CoreSettings):
    """The queues the pipeline view and its alert rules watch (unset: none)."""

    alerts_queue_url: str | None = None
    aggregate_dead_letter_url: str | None = None
    alerts_dead_letter_url: str | None = None
    pipeline_lag_bound_seconds: float = Field(
        120, gt=0, description="tiers further behind ingest than this: the pipeline is degraded"
    )
    pipeline_backlog_bound: int = Field(
        500, ge=1, description="messages waiting in one queue beyond this: the pipeline is degraded"
    )

    @property
    def watched_queues(self) -> tuple[tuple[str, str, str | None], ...]:
        watched = (
            ("aggregate", self.aggregate_queue_url, self.aggregate_dead_letter_url),
            ("alerts", self.alerts_queue_url, self.alerts_dead_letter_url),
        )
        return tuple((name, url, dead) for name, url, dead in watched if url)


class AlertSettings(PipelineSettings):
    archive_bucket: str = Field(min_length=1)
    rules_cache_seconds: float = Field(15.0, ge=0)


class ApiSettings(PipelineSettings):
    max_points: int = Field(1000, ge=10, le=100_000)
    stale_after_seconds: int = Field(30, gt=0)
    down_after_seconds: int = Field(120, gt=0)
    read_token: SecretStr | None = Field(
        None,
        description="when set, every data route needs it (Bearer header or ?token=) or a sign-in",
    )
    public_read: bool = Field(
        False,
        description="serve the data routes to anyone who reaches the API when no read token is"
        " set; off: without a read token, only signed-in users read",
    )
    admin_token: SecretStr | None = Field(
        None,
        min_length=16,
        description="needed (as a Bearer header only) to change alert rules, unless signed in"
        " as an operator; unset: only signed-in operators can",
    )
    session_hours: float = Field(
        12, gt=0, le=24 * 30, description="how long a dashboard sign-in lasts before a new one"
    )
    sign_in_failures_per_minute: int = Field(
        10, ge=1, description="failed sign-ins per client address, and per user, before a 429"
    )
    max_body_bytes: int = Field(
        1 << 20, ge=1024, le=64 << 20, description="larger request bodies are refused unread (413)"
    )
    cors_origins: str = Field("", description="comma-separated origins allowed to read the API")
    live_recheck_seconds: float = Field(
        10, gt=0, le=300, description="how often a live feed opened with a sign-in checks it"
    )
    live_websocket: bool = Field(
        True, description="whether /api/v1/live is served as a WebSocket where this API runs"
    )
    promql_timeout_seconds: float = Field(
        20, gt=0, le=600, description="a PromQL query running longer is answered 503 timeout"
    )
    promql_max_series: int = Field(
        20_000, ge=1, description="series one PromQL selector may read before a 422 execution"
    )
    promql_max_samples: int = Field(
        5_000_000, ge=1000, description="points a PromQL query may hold before a 422 execution"
    )
    frontend_dir: Path | None = Field(
        Path(__file__).resolve().parents[2] / "frontend",
        description="the dashboard's static files, served at /; empty to serve none",
    )

    @field_validator("read_token", "admin_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (a deployment that passes every setting) sets no token."""
        return None if value == "" else value

    @property
    def reads_open(self) -> bool:
        """Whether anyone who reaches the API reads it: no read token, and said public."""
        return self.read_token is None and self.public_read

    @property
    def allowed_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


class WorkerSettings(BaseSettings):
    """A function's handler run as a long-lived consumer of its queue (``hostpulse worker``)."""

    model_config = SettingsConfigDict(env_prefix="HOSTPULSE_WORKER_", extra="ignore")

    # One, as Lambda runs one invocation per environment: the handlers' logging and metrics
    # context is per process. Scale with replicas; more threads share that context.
    concurrency: int = Field(1, ge=1, le=64, description="batches handled at once")
    health_port: int = Field(8081, ge=1, le=65535, description="/livez and /readyz")
    # Every interface in a pod (the kubelet probes it); the one-box runtime keeps it on loopback.
    health_host: str = Field("0.0.0.0", description="the probes' address")  # noqa: S104
    queue_url: str | None = Field(None, description="default: the trigger queue's own setting")
    # The functions' own environment names each queue; a worker reads the one it consumes.
    aggregate_queue_url: str | None = Field(None, validation_alias="HOSTPULSE_AGGREGATE_QUEUE_URL")
    alerts_queue_url: str | None = Field(None, validation_alias="HOSTPULSE_ALERTS_QUEUE_URL")
    aws_region: str = Field(
        "us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")

    def queue_for(self, queue: str) -> str | None:
        named = {"aggregate": self.aggregate_queue_url, "alerts": self.alerts_queue_url}
        return self.queue_url or named.get(queue)


@lru_cache(maxsize=1)
def ingest_settings() -> IngestSettings:
    return IngestSettings()  # type: ignore[call-arg]  # values come from the environment


@lru_cache(maxsize=1)
def aggregate_settings() -> AggregateSettings:
    return AggregateSettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def alert_settings() -> AlertSettings:
    return AlertSettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def api_settings() -> ApiSettings:
    return ApiSettings()  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def core_settings() -> CoreSettings:
    return CoreSettings()  # type: ignore[call-arg]
