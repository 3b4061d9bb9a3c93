"""What replay reads from and sends to: dead-letter queues, the archive, a queue, a checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class HeldMessage:
    """A dead-lettered message, hidden from other readers until deleted or released."""

    receipt: str
    body: str


class DeadLetters(Protocol):
    def receive(self, max_messages: int) -> list[HeldMessage]:
        """Up to ``max_messages``, each held (invisible) long enough to be dealt with."""

    def delete(self, receipt: str) -> None: ...

    def release(self, receipt: str) -> None:
        """Visible again at once: left where it was."""

    def depth(self) -> int:
        """About how many messages wait (for progress only)."""


class Destination(Protocol):
    def send(self, body: str) -> None:
        """Enqueue one envelope; raises if the queue did not take it."""


class ArchiveReader(Protocol):
    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        """Every object under the prefix, in key order: (key, size in bytes)."""

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> None: ...


class Checkpoint(Protocol):
    def load(self) -> str | None:
        """The last archive key fully sent by an earlier run of the same replay."""

    def save(self, key: str) -> None: ...

    def clear(self) -> None: ...


class Progress(Protocol):
    def start(self, items: int | None, size: int | None) -> None: ...

    def advance(self, items: int, size: int) -> None: ...

    def finish(self) -> None: ...
