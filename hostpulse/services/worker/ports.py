"""What a worker needs from its queue; the SQS adapter implements it, tests fake it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)  # ApproximateReceiveCount, …


class MessageSource(Protocol):
    queue_arn: str

    def receive(self, max_messages: int, wait_s: int) -> list[QueueMessage]:
        """Up to ``max_messages`` (at most 10), waiting up to ``wait_s`` for the first."""

    def delete(self, messages: Sequence[QueueMessage]) -> None:
        """Done with: never delivered again."""

    def release(self, messages: Sequence[QueueMessage]) -> None:
        """Not handled after all: visible to every consumer again at once."""
