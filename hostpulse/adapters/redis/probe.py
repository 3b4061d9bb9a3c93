"""Health probe of Redis behind the ``Probe`` protocol."""

from __future__ import annotations

import redis

from hostpulse.adapters.redis.client import redis_client


class RedisProbe:
    name = "redis"

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.client = redis_client(url, timeout_seconds)

    def check(self) -> tuple[bool, str]:
        try:
            self.client.ping()
        except redis.RedisError as error:
            return False, type(error).__name__
        return True, "ok"
