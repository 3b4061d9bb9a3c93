"""The pipeline's per-minute tally in Redis: one hash per deployment and minute, added to by
every execution environment of ingest and aggregation, read once by the alerts schedule."""

from __future__ import annotations

from collections.abc import Mapping

import redis

from hostpulse.adapters.redis import keys

# Long enough for a schedule that missed a few runs to still close its minutes; short enough
# that a deployment gone leaves nothing behind for long.
KEEP_MS = 2 * 3600 * 1000


class RedisMinuteTally:
    def __init__(self, client: redis.Redis, deployment: str) -> None:
        self.client = client
        self.deployment = deployment

    def add(self, minute_ms: int, counts: Mapping[str, float]) -> None:
        key = keys.pipeline_minute_key(self.deployment, minute_ms)
        pipe = self.client.pipeline(transaction=False)
        for name, value in counts.items():
            pipe.hincrbyfloat(key, name, value)
        pipe.pexpire(key, KEEP_MS)
        pipe.execute()

    def read(self, minute_ms: int) -> dict[str, float]:
        raw: dict[bytes, bytes] = self.client.hgetall(  # type: ignore[assignment]
            keys.pipeline_minute_key(self.deployment, minute_ms)
        )
        return {name.decode(): float(value) for name, value in raw.items()}
