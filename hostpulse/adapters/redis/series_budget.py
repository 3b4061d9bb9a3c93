"""Each host's known series in Redis, for the series budget: one set per host of 64-bit
digests of its series' names (integers, which Redis keeps as a packed array of 8 bytes each
up to ``set-max-intset-entries``), forgotten when the host writes no new series for as long as
the 1-minute tier keeps them."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

from hostpulse.adapters.redis.keys import series_key

# Per member, atomically: known, or new while the set is under the limit (then added).
ADMIT = """
local size = redis.call('SCARD', KEYS[1])
local limit = tonumber(ARGV[1])
local answer = {}
for i = 3, #ARGV do
    if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
        answer[#answer + 1] = 1
    elseif size < limit then
        redis.call('SADD', KEYS[1], ARGV[i])
        size = size + 1
        answer[#answer + 1] = 1
    else
        answer[#answer + 1] = 0
    end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return answer
"""
CHUNK = 1000  # members per script call: Lua's stack holds a few thousand arguments
# A series once admitted stays the host's while its set lives: this process remembers what it
# was told, and asks Redis only about series it has not seen, or to keep the set alive.
REMEMBERED = 200_000  # series names, every host's together: a few MB, in a function of 256 MB
REFRESH_S = 60.0


def digest(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


class RedisSeriesBudget:
    def __init__(self, client: Any, keep_ms: int) -> None:
        self.client = client
        self.keep_ms = keep_ms
        self._admit = client.register_script(ADMIT)
        self._admitted: dict[str, set[str]] = {}
        self._refreshed: dict[str, float] = {}
        self._remembered = 0

    def admit(self, host: str, names: Sequence[str], limit: int) -> list[bool]:
        admitted = self._admitted.get(host, set())
        unknown = [name for name in names if name not in admitted]
        now = time.monotonic()
        if not unknown:
            if now - self._refreshed.get(host, 0.0) > REFRESH_S:
                self.client.pexpire(series_key(host), self.keep_ms)
                self._refreshed[host] = now
            return [True] * len(names)
        answers = dict(zip(unknown, self._ask(host, unknown, limit), strict=True))
        if self._remembered > REMEMBERED:
            self._admitted.clear()
            self._remembered = 0
        newly = {name for name, ok in answers.items() if ok}
        self._admitted.setdefault(host, set()).update(newly)
        self._remembered += len(newly)
        self._refreshed[host] = now
        return [answers.get(name, True) for name in names]

    def _ask(self, host: str, names: Sequence[str], limit: int) -> list[bool]:
        key = series_key(host)
        members = [digest(name) for name in names]
        admitted: list[bool] = []
        for first in range(0, len(members), CHUNK):
            chunk = members[first : first + CHUNK]
            answer = self._admit(keys=[key], args=[limit, self.keep_ms, *chunk])
            admitted += [bool(a) for a in answer]
        return admitted
