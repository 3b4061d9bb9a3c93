"""Settings of the local cloud, read once from ``HOSTPULSE_*`` variables and validated."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr

from hostpulse.core.settings import SecretFileSettings
from hostpulse.localcloud.server_account import Isolation

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Runtime(StrEnum):
    """Where `hostpulse up` runs the stack's functions."""

    LAMBDA = "lambda"  # on LocalStack's Lambda service behind its API Gateway, as on AWS
    PROCESSES = "processes"  # as processes, the way the Kubernetes manifests run them


# `hostpulse migrate` in a Kubernetes Job reads the database URL from the mounted Secret.
class LocalCloudSettings(SecretFileSettings):
    state_dir: Path = PROJECT_ROOT / ".hostpulse"
    # External servers; when unset, embedded ones run under the state folder.
    database_url: str | None = None
    redis_url: str | None = None
    # PostgreSQL refuses root: as root it runs as `nobody` in a user namespace (auto), or as
    # the `nobody` account itself, its files moved under the relocation folder when the
    # checkout is private (see docs/architecture.md and docs/local-cloud.md).
    postgres_isolation: Isolation = Isolation.AUTO
    postgres_relocation_dir: Path = Path("/var/lib/hostpulse")
    # The embedded server's page cache; unset, a quarter of the machine's memory (PostgreSQL's
    # own advice for a dedicated server), at most 4 GiB: the default of 128 MB holds less than
    # an hour of a fleet's raw rows, so a fleet query read them from the kernel every time.
    postgres_shared_buffers_mb: int | None = Field(None, ge=16)
    localstack_port: int = Field(4566, ge=1, le=65535)
    postgres_port: int = Field(15432, ge=1, le=65535)
    redis_port: int = Field(16379, ge=1, le=65535)
    api_port: int = Field(8080, ge=1, le=65535)
    runtime: Runtime = Runtime.LAMBDA
    # The process runtime: where ingest listens, and how many processes each service runs
    # (one is one core at most: Python runs one thread at a time).
    ingest_port: int = Field(8070, ge=1, le=65535)
    ingest_processes: int = Field(1, ge=1, le=32)
    aggregate_workers: int = Field(1, ge=1, le=32)
    alerts_workers: int = Field(1, ge=1, le=32)
    # Interpreter for LocalStack's own environment (3.13 or newer); found when unset.
    localstack_python: Path | None = None
    region: str = "us-east-1"
    # Origins that may read the API: a dashboard served as a static site from elsewhere.
    # None by default: listening on loopback does not keep a web page in the user's browser
    # from reading it, and the dashboard the API serves needs no CORS.
    cors_origins: str = ""
    # Needed to change alert rules through the API; generated under the state folder when unset.
    admin_token: SecretStr | None = Field(None, min_length=16)
    # Needed to read the API (or a sign-in), by the API under uvicorn and the api function alike.
    read_token: SecretStr | None = None
    # Addresses whose X-Forwarded-For the API believes (comma-separated), as a proxy in front of
    # it: none by default, so no local process can pick the address the sign-in throttle counts.
    trusted_proxies: str = ""
    # Reads without a read token: unset, they are open on the local cloud, which listens on
    # 127.0.0.1 only, and Terraform, which deploys where anyone may reach it, refuses to guess.
    public_read: bool | None = None
    # LocalStack's virtual environment is a cache shared by every state folder of a checkout.
    localstack_env_dir: Path = PROJECT_ROOT / ".hostpulse" / "localstack-env"
    stack_file: Path = PROJECT_ROOT / "stack" / "stack.yaml"
    # Alert rules loaded at each `up` (they replace the previous file's; API rules stay).
    alert_rules_file: Path | None = PROJECT_ROOT / "stack" / "alert-rules.yaml"
    # Prometheus rule groups loaded at each `up`: they replace the groups of the same names;
    # groups loaded otherwise (`hostpulse alerts load`, the API) stay.
    prometheus_rules_file: Path | None = PROJECT_ROOT / "stack" / "prometheus-rules.yaml"


@lru_cache(maxsize=1)
def get_settings() -> LocalCloudSettings:
    return LocalCloudSettings()
