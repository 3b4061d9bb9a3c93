"""The metadata remote-write senders give their metrics, in one Redis hash: name -> [type, help,
unit], as last sent (Prometheus itself keeps only what it last scraped). Bounded: past
``MAX_NAMES`` names, only names already known are updated."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hostpulse.adapters.redis.keys import PROMETHEUS_METADATA
from hostpulse.core.ports import Metadata

MAX_NAMES = 50_000


class RedisMetadataStore:
    def __init__(self, client: Any) -> None:
        self.client = client

    def save(self, entries: Mapping[str, Metadata]) -> None:
        if not entries:
            return
        encoded = {name: json.dumps(list(entry)) for name, entry in entries.items()}
        if self.client.hlen(PROMETHEUS_METADATA) >= MAX_NAMES:
            known = self.client.hmget(PROMETHEUS_METADATA, list(encoded))
            encoded = {n: e for (n, e), old in zip(encoded.items(), known, strict=True) if old}
        if encoded:
            self.client.hset(PROMETHEUS_METADATA, mapping=encoded)

    def read(self) -> dict[str, Metadata]:
        raw: dict[bytes, bytes] = self.client.hgetall(PROMETHEUS_METADATA)
        found: dict[str, Metadata] = {}
        for name, value in raw.items():
            kind, help_text, unit = json.loads(value)
            found[name.decode()] = (str(kind), str(help_text), str(unit))
        return found
