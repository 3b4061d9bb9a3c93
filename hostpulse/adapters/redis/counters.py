"""OTLP senders' counter states in Redis: one hash per host, forgotten an hour after its last
write (a host away that long starts its rates afresh)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hostpulse.adapters.redis.keys import counters_key
from hostpulse.services.ingest.otlp.counters import FORGET_AFTER_NS, CounterPoint, CounterState

Encoded = list[float] | None


def encode_point(point: CounterPoint | None) -> Encoded:
    return None if point is None else [point.start_ns, point.time_ns, point.value]


def decode_point(encoded: Any) -> CounterPoint | None:
    if encoded is None:
        return None
    start, time, value = encoded
    return CounterPoint(int(start), int(time), float(value))


class RedisCounterStore:
    def __init__(self, redis: Any) -> None:
        self.redis = redis

    def load(self, host: str) -> dict[str, CounterState]:
        states = {}
        for key, raw in self.redis.hgetall(counters_key(host)).items():
            previous, latest = json.loads(raw)
            point = decode_point(latest)
            if point is not None:
                name = key.decode() if isinstance(key, bytes) else key
                states[name] = CounterState(decode_point(previous), point)
        return states

    def save(self, host: str, changed: Mapping[str, CounterState], removed: list[str]) -> None:
        key = counters_key(host)
        pipe = self.redis.pipeline(transaction=False)
        if changed:
            pipe.hset(key, mapping={
                name: json.dumps([encode_point(s.previous), encode_point(s.latest)])
                for name, s in changed.items()
            })  # fmt: skip
        if removed:
            pipe.hdel(key, *removed)
        pipe.expire(key, FORGET_AFTER_NS // 10**9)
        pipe.execute()
