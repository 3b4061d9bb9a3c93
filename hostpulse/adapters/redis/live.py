"""The live source on Redis: a pattern subscription to every host's channel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import redis.asyncio

from hostpulse.adapters.redis import keys as hot
from hostpulse.services.query.live import SUBSCRIBED, Message

PING_EVERY_S = 10.0  # a silent, half-open connection is found within this


class RedisLiveSource:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s

    async def messages(self) -> AsyncIterator[Message]:
        client = redis.asyncio.Redis.from_url(
            self.url, socket_connect_timeout=self.timeout_s, socket_timeout=PING_EVERY_S * 2
        )
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe(hot.live_channel("*"))
            idle = 0.0
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    idle += 1.0
                    if idle >= PING_EVERY_S:
                        await pubsub.ping()
                        idle = 0.0
                    continue
                idle = 0.0
                if message["type"] == "psubscribe":
                    yield SUBSCRIBED
                elif message["type"] == "pmessage":
                    yield json.loads(message["data"])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()
