"""AWS clients, created once per process with timeouts, for LocalStack or AWS alike."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=30,
    retries={"max_attempts": 4, "mode": "standard"},
)
# The local cloud answers for every service on one address, so buckets go in the path.
LOCAL_CLOUD_CONFIG = CLIENT_CONFIG.merge(Config(s3={"addressing_style": "path"}))


@lru_cache(maxsize=64)
def aws_client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    """A boto3 client; with ``endpoint_url`` it talks to the local cloud (test credentials)."""
    if endpoint_url:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 -- the local cloud's fixed credential
            config=LOCAL_CLOUD_CONFIG,
        )
    return boto3.client(service, region_name=region, config=CLIENT_CONFIG)  # type: ignore[call-overload]
