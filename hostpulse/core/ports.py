"""What several features talk to: counters, the archive of accepted batches, the sign-in
throttle, the metadata senders give their metrics. Each feature's own ports are in its
ports.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

# A metric's type, help and unit, as Prometheus' metadata API answers them.
Metadata = tuple[str, str, str]


class MetadataStore(Protocol):
    """What remote-write senders said of their metrics (ingest writes, PromQL reads)."""

    def save(self, entries: Mapping[str, Metadata]) -> None: ...

    def read(self) -> dict[str, Metadata]: ...


class Counters(Protocol):
    def count(self, name: str, value: float = 1) -> None: ...


class AuthThrottle(Protocol):
    """Bounds the token look-ups that fail, per client address: guessing tokens must not turn
    into one database query per guess."""

    def blocked_for(self, source: str) -> float:
        """0 when ``source`` may have a token looked up, else the seconds until it may."""

    def failed(self, source: str) -> None:
        """Count a look-up from ``source`` that found no active token."""

    def attempt(self, source: str) -> float:
        """Count an attempt from ``source`` before it is checked, and answer as
        ``blocked_for`` does with it counted: attempts made at once cannot all pass a count
        read before any of them was written."""

    def forgive(self, source: str) -> None:
        """Take back an attempt that succeeded: only failures use up the bound."""


class Archive(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...
