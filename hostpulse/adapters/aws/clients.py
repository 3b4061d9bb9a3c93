"""AWS clients, created once per process with timeouts, for LocalStack or AWS alike."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from localstack_client.session import Session as LocalStackSession

CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=30,
    retries={"max_attempts": 4, "mode": "standard"},
)


@lru_cache(maxsize=64)
def aws_client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    """A boto3 client; with ``endpoint_url`` it talks to LocalStack (localstack-client)."""
    if endpoint_url:
        session = LocalStackSession(
            localstack_host=urlsplit(endpoint_url).netloc, region_name=region
        )
        return session.client(service, config=CLIENT_CONFIG)
    return boto3.client(service, region_name=region, config=CLIENT_CONFIG)  # type: ignore[call-overload]
