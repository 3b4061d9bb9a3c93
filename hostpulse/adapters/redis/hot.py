"""The hot tier in Redis, written by ingest and read by the query API; the per-agent rate
limiter and the failed-token throttle beside it. The key layout is in ``keys``."""

from __future__ import annotations

import json
import time

import orjson
import redis

from hostpulse.adapters.redis import keys as hot
from hostpulse.core.contract import Batch
from hostpulse.core.responses import AtAGlance, CompactSample, HostFactsView, LatestSample

# Keep the newest snapshot only: a late or replayed batch must not replace a newer one.
SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'ts')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'sample', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# The same for a host's figures at a glance, one field of one hash per host.
SET_GLANCE_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and cjson.decode(current)['ts_ms'] >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# A host's keys and its entries in the fleet-wide keys, gone; with ARGV[2], only when its newest
# sample is not newer than that (a host that sent meanwhile keeps everything).
FORGET_HOST = """
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and seen and tonumber(seen) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4], KEYS[5], KEYS[6], KEYS[7])
return 1
"""

# Generic cell rate algorithm: `rate` requests per second with bursts of `burst`. Returns the
# milliseconds to wait (0 = allowed), or -1 while the backend drains (KEYS[2] exists). One key
# per agent, no background cleanup needed.
GCRA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat + interval * (cost - 1) - interval * burst
if now < allow_at then return allow_at - now end
redis.call('SET', KEYS[1], tat + interval * cost, 'PX', math.ceil(interval * (burst + cost)))
return 0
"""


class RedisHotStore:
    def __init__(self, client: redis.Redis, window_ms: int, retain_ms: int) -> None:
        self.client = client
        self.window_ms = window_ms
        self.retain_ms = retain_ms  # how long keys of a silent host stay
        self._set_if_newer = client.register_script(SET_IF_NEWER)
        self._set_glance_if_newer = client.register_script(SET_GLANCE_IF_NEWER)

    def write(self, batch: Batch, now_ms: int) -> None:
        host = batch.host.hostname
        cutoff = now_ms - self.window_ms
        fresh = [s for s in batch.samples if s.ts_ms > cutoff]
        newest = max(batch.samples, key=lambda s: s.ts_ms)
        pipe = self.client.pipeline(transaction=False)
        window = hot.window_key(host)
        if fresh:
            pipe.zadd(window, {hot.compact(s): s.ts_ms for s in fresh})
        pipe.zremrangebyscore(window, "-inf", cutoff)
        pipe.pexpire(window, self.retain_ms)
        self._set_if_newer(
            keys=[hot.latest_key(host)],
            args=[newest.ts_ms, newest.model_dump_json(), self.retain_ms],
            client=pipe,
        )
        self._set_glance_if_newer(
            keys=[hot.GLANCE],
            args=[host, newest.ts_ms, json.dumps(hot.glance(newest), separators=(",", ":"))],
            client=pipe,
        )
        pipe.zadd(hot.HOSTS, {host: newest.ts_ms}, gt=True)
        pipe.hset(hot.FACTS, host, batch.host.model_dump_json())
        if fresh:
            message = {"host": host, "samples": [json.loads(hot.compact(s)) for s in fresh]}
            pipe.publish(hot.live_channel(host), json.dumps(message, separators=(",", ":")))
        pipe.execute()


class RedisHotHosts:
    """The hot tier's entries per host: forgotten when the host leaves the fleet, or once
    unseen for as long as the hot tier keeps a silent host's figures."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._forget = client.register_script(FORGET_HOST)

    def forget(self, host: str) -> None:
        self._forget_host(host, "")

    def unseen_since(self, before_ms: int, limit: int) -> list[str]:
        found: list[bytes] = self.client.zrangebyscore(  # type: ignore[assignment]
            hot.HOSTS, "-inf", before_ms, start=0, num=limit
        )
        return [name.decode() for name in found]

    def forget_if_unseen(self, host: str, before_ms: int) -> bool:
        return self._forget_host(host, str(before_ms))

    def _forget_host(self, host: str, unless_newer: str) -> bool:
        keys = [hot.HOSTS, hot.FACTS, hot.GLANCE, hot.window_key(host), hot.latest_key(host),
                hot.series_key(host), hot.counters_key(host)]  # fmt: skip
        return bool(self._forget(keys=keys, args=[host, unless_newer]))


class RedisRateLimiter:
    def __init__(
        self, client: redis.Redis, per_second: float, burst: int, draining_key: str
    ) -> None:
        self.client = client
        self.draining_key = draining_key
        self.interval_ms = 1000.0 / per_second
        self.burst = burst
        self._gcra = client.register_script(GCRA)

    def acquire(self, agent_id: str, batches: int = 1) -> float:
        now_ms = time.time() * 1000
        wait_ms = float(
            self._gcra(
                keys=[hot.rate_key(agent_id), self.draining_key],
                args=[now_ms, self.interval_ms, self.burst, batches],
            )
        )
        return -1.0 if wait_ms < 0 else wait_ms / 1000


class RedisAuthThrottle:
    """At most ``limit`` failed token look-ups per client address and minute (fixed window)."""

    def __init__(self, client: redis.Redis, limit: int, window_s: int = 60) -> None:
        self.client = client
        self.limit = limit
        self.window_s = window_s

    def blocked_for(self, source: str) -> float:
        key = hot.auth_failures_key(source)
        count = self.client.get(key)
        if count is None or int(count) < self.limit:
            return 0.0
        return self._window_left(key)

    def failed(self, source: str) -> None:
        self._count(hot.auth_failures_key(source))

    def attempt(self, source: str) -> float:
        key = hot.auth_failures_key(source)
        return 0.0 if self._count(key) <= self.limit else self._window_left(key)

    def forgive(self, source: str) -> None:
        key = hot.auth_failures_key(source)
        if int(self.client.decr(key)) <= 0:  # type: ignore[arg-type]
            self.client.delete(key)

    def _window_left(self, key: str) -> float:
        ttl = int(self.client.ttl(key))  # type: ignore[arg-type]
        return float(ttl if ttl > 0 else self.window_s)

    def _count(self, key: str) -> int:
        count = int(self.client.incr(key))  # type: ignore[arg-type]
        # The window starts with the first failure (EXPIRE NX needs Redis 7; this is 6.2).
        if count == 1:
            self.client.expire(key, self.window_s)
        return count


class RedisHotReader:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def newest_ms(self) -> int | None:
        """The newest sample ingest put in the hot tier, of any host."""
        try:
            newest: list[tuple[bytes, float]] = self.client.zrevrange(  # type: ignore[assignment]
                hot.HOSTS, 0, 0, withscores=True
            )
        except redis.RedisError:
            return None  # unknown while Redis is away; ingest goes on without it
        return int(newest[0][1]) if newest else None

    def last_seen(self) -> dict[str, int]:
        try:
            pairs: list[tuple[bytes, float]] = self.client.zrange(  # type: ignore[assignment]
                hot.HOSTS, 0, -1, withscores=True
            )
        except redis.RedisError:
            return {}  # the hot tier is an accelerator; PostgreSQL still answers
        return {member.decode(): int(score) for member, score in pairs}

    def facts(self, only: str | None = None) -> dict[str, HostFactsView]:
        try:
            stored = self._entries(hot.FACTS, only)
        except redis.RedisError:
            return {}
        return {host.decode(): json.loads(value) for host, value in stored.items()}

    def _entries(self, key: str, only: str | None) -> dict[bytes, bytes]:
        """A hash's entries, or only one host's (an empty answer when it has none)."""
        if only is None:
            return self.client.hgetall(key)  # type: ignore[return-value]
        value: bytes | None = self.client.hget(key, only)  # type: ignore[assignment]
        return {} if value is None else {only.encode(): value}

    def window(self, host: str, since_ms: int) -> list[CompactSample]:
        try:
            members: list[bytes] = self.client.zrangebyscore(  # type: ignore[assignment]
                hot.window_key(host), f"({since_ms}", "+inf"
            )
        except redis.RedisError:
            return []
        return [hot.parse_compact(member) for member in members]

    def glances(self, only: str | None = None) -> dict[str, AtAGlance]:
        try:
            found = self._entries(hot.GLANCE, only)
        except redis.RedisError:
            return {}  # the hot tier is an accelerator; PostgreSQL still answers
        return {host.decode(): orjson.loads(value) for host, value in found.items()}

    def latest(self, host: str) -> LatestSample | None:
        try:
            raw = self.client.hget(hot.latest_key(host), "sample")
        except redis.RedisError:
            return None
        if raw is None:
            return None
        data: LatestSample = json.loads(raw)
        return data


class RedisDrainFlag:
    """Raised while one deployment drains: its ingest answers 503 until the flag is lowered
    (the rate limiter reads it). It expires on its own, so a shutdown that dies halfway does
    not refuse batches forever."""

    def __init__(self, client: redis.Redis, aggregate_queue_url: str, ttl_s: int = 3600) -> None:
        self.client = client
        self.key = hot.draining_key(aggregate_queue_url)
        self.ttl_s = ttl_s

    def raise_flag(self) -> bool:
        """False when Redis does not answer."""
        try:
            self.client.set(self.key, "1", ex=self.ttl_s)
        except redis.RedisError:
            return False
        return True

    def lower(self) -> None:
        self.client.delete(self.key)
