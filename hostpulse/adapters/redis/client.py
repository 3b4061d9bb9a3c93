"""Clients created once per execution environment, with timeouts."""

from __future__ import annotations

from functools import lru_cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@lru_cache(maxsize=8)
def redis_client(url: str, timeout_seconds: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
        # No retries: with Redis gone, a call fails after one timeout and the caller goes on
        # without it (ingest leaves it alone for a while). redis-py's own retries, which also
        # wrap each connection attempt, took a request with Redis frozen to 8 s (default) and
        # past ingest's 10 s limit (one retry), measured by tests/faults/test_redis_away.py.
        retry=Retry(NoBackoff(), 0),
    )
