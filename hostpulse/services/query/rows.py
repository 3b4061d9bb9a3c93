"""What the stores hand the query service: rows and points already written as JSON where the
answer passes them through."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class EncodedJson:
    """A value already written as JSON by the store, going out as written instead of becoming
    Python objects first. (Not a dataclass: JSON encoders would write a dataclass as an object
    of its fields.)"""

    __slots__ = ("json",)

    def __init__(self, json: str) -> None:
        self.json = json

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.json!r})"


@dataclass(frozen=True)
class HostRow:
    host: str
    agent_id: str
    facts: EncodedJson  # as stored: the host list passes it through
    first_seen_ms: int
    last_seen_ms: int
    last_received_ms: int
    unnumbered: bool  # sent by the seed agent or over OTLP: batches numbered by time
    retired_ms: int | None = None
    # Over the completeness window: batches received, and those its agents' sequence numbers
    # span (each agent's lowest to highest, summed).
    batches_received: int = 0
    batches_expected: int = 0


class EncodedPoints(EncodedJson):
    """A series' points, already JSON: one array of ``[ts_ms, avg, min, max, count]`` arrays in
    time order, the answer's columns. A view's thousands of points go out as the store wrote
    them."""

    __slots__ = ()

    @classmethod
    def of(cls, points: Iterable[Sequence[float]]) -> EncodedPoints:
        return cls(json.dumps([list(point) for point in points], allow_nan=False))


NO_POINTS = EncodedPoints("[]")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_time(ms: int) -> datetime:
    """Unix milliseconds as an aware datetime, exactly (a float of seconds can miss by 1 µs)."""
    return EPOCH + timedelta(milliseconds=ms)
