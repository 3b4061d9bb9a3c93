"""Each host's known series in Redis, for the series budget: one set per host of 64-bit
digests of its series' names (integers, which Redis keeps as a packed array of 8 bytes each
up to ``set-max-intset-entries``), forgotten when the host writes no new series for as long as
the 1-minute tier keeps them."""

from __future__ import annotations

import hashlib
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


def digest(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


class RedisSeriesBudget:
    def __init__(self, client: Any, keep_ms: int) -> None:
        self.client = client
        self.keep_ms = keep_ms
        self._admit = client.register_script(ADMIT)

    def admit(self, host: str, names: Sequence[str], limit: int) -> list[bool]:
        key = series_key(host)
        members = [digest(name) for name in names]
        admitted: list[bool] = []
        for first in range(0, len(members), CHUNK):
            chunk = members[first : first + CHUNK]
            answer = self._admit(keys=[key], args=[limit, self.keep_ms, *chunk])
            admitted += [bool(a) for a in answer]
        return admitted
