"""An in-memory SQS queue with the semantics the worker relies on: visibility timeouts,
receive counts and a redrive to a dead-letter list after ``max_receives``."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from hostpulse.services.worker.ports import QueueMessage


@dataclass
class Held:
    body: str
    visible_at: float = 0.0
    receives: int = 0


@dataclass
class MemorySqs:
    visibility_s: float = 0.5
    max_receives: int | None = None
    queue_arn: str = "arn:aws:sqs:us-east-1:000000000000:hostpulse-aggregate"
    held: dict[str, Held] = field(default_factory=dict)
    dead: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, *bodies: str) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in bodies]
        with self.lock:
            for message_id, body in zip(ids, bodies, strict=True):
                self.held[message_id] = Held(body)
        return ids

    def receive(self, max_messages: int, wait_s: int) -> list[QueueMessage]:
        deadline = time.monotonic() + wait_s
        while True:
            taken = self._take(max_messages)
            if taken or time.monotonic() >= deadline:
                return taken
            time.sleep(0.01)

    def _take(self, max_messages: int) -> list[QueueMessage]:
        now = time.monotonic()
        taken: list[QueueMessage] = []
        with self.lock:
            for message_id, held in list(self.held.items()):
                if len(taken) == max_messages:
                    break
                if held.visible_at > now:
                    continue
                if self.max_receives is not None and held.receives >= self.max_receives:
                    self.dead.append(held.body)  # the redrive policy, as SQS applies it
                    del self.held[message_id]
                    continue
                held.receives += 1
                held.visible_at = now + self.visibility_s
                taken.append(
                    QueueMessage(
                        message_id,
                        f"{message_id}/{held.receives}",
                        held.body,
                        {"ApproximateReceiveCount": str(held.receives)},
                    )
                )
        return taken

    def delete(self, messages: Sequence[QueueMessage]) -> None:
        with self.lock:
            for message in messages:
                held = self.held.get(message.message_id)
                if held is not None and message.receipt_handle.endswith(f"/{held.receives}"):
                    del self.held[message.message_id]
                    self.deleted.append(held.body)

    def release(self, messages: Sequence[QueueMessage]) -> None:
        with self.lock:
            for message in messages:
                if message.message_id in self.held:
                    self.held[message.message_id].visible_at = 0.0

    @property
    def waiting(self) -> int:
        with self.lock:
            return len(self.held)
