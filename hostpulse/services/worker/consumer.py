"""A function's handler fed from its SQS queue by a long-running process, with the semantics of
Lambda's SQS event source: batches of up to ``batch_size`` gathered for at most the batching
window, the handler called with the same event Lambda sends, partial batch responses (only the
failed messages come back, after the visibility timeout, and the queue's redrive policy moves
them to the dead-letter queue after its receive count), several consumers in parallel, and a
stop that lets the batch in hand finish and releases what was received but not yet handed on.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hostpulse.services.worker.ports import MessageSource, QueueMessage

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]
MAX_RECEIVE = 10  # SQS's own limit per call
POLL_WAIT_S = 5  # long polls short enough to notice a stop within seconds


@dataclass(frozen=True)
class EventSource:
    """One trigger of the stack description: its queue, and how batches are made."""

    function_name: str
    batch_size: int = 10
    batching_window_s: float = 0.0
    timeout_s: float = 30.0  # the function's: a handler running longer fails the liveness probe
    region: str = "us-east-1"
    memory_mb: int = 256
    poll_wait_s: int = POLL_WAIT_S


def sqs_event(messages: Sequence[QueueMessage], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source passes to a handler."""
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": dict(m.attributes),
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(m.body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def failed_ids(response: Any, messages: Sequence[QueueMessage]) -> set[str]:
    """The messages a handler's answer hands back, read as Lambda reads it: no answer, or no
    or a null ``batchItemFailures``, is complete success; an identifier that is empty, null,
    under another key or not in the batch, or an answer that is no object, complete failure."""
    every = {m.message_id for m in messages}
    if response is None:
        return set()
    if not isinstance(response, dict):
        return every
    items = response.get("batchItemFailures")
    if items is None:
        return set()
    try:
        named = [item["itemIdentifier"] for item in items]
    except (TypeError, KeyError):
        return every
    if not all(isinstance(n, str) and n in every for n in named):
        return every
    return set(named)


@dataclass
class WorkerContext:
    """What a handler reads of Lambda's context (Powertools' Logger, the remaining time)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    deadline: float  # time.monotonic()
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    client_context: None = None
    identity: None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class Vitals:
    """What the probes read: when a consumer last came round its loop, when a handler call
    began (None between calls), and whether the queue answered the last receive."""

    last_loop: float = field(default_factory=time.monotonic)
    busy_since: dict[int, float] = field(default_factory=dict)
    queue_answered: bool = False
    batches: int = 0
    messages: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def alive(self, timeout_s: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            stuck = [since for since in self.busy_since.values() if now - since > timeout_s]
        return not stuck and now - self.last_loop < max(timeout_s, 3 * POLL_WAIT_S)


class Consumer:
    def __init__(
        self,
        source: MessageSource,
        handler: Handler,
        trigger: EventSource,
        stopping: threading.Event,
        vitals: Vitals | None = None,
    ) -> None:
        self.source = source
        self.handler = handler
        self.trigger = trigger
        self.stopping = stopping
        self.vitals = vitals or Vitals()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once()
            except Exception:  # the queue away: the next round tries again
                log.exception("polling %s failed", self.source.queue_arn)
                with self.vitals.lock:
                    # Not ready, but alive: a restart would not bring the queue back.
                    self.vitals.queue_answered = False
                    self.vitals.last_loop = time.monotonic()
                self.stopping.wait(2.0)

    def gather(self) -> list[QueueMessage]:
        """Up to ``batch_size`` messages: the first wait is a long poll; once one came, more
        are taken until the batch is full or the batching window has passed."""
        batch: list[QueueMessage] = []
        window_ends: float | None = None
        while len(batch) < self.trigger.batch_size and not self.stopping.is_set():
            wanted = min(MAX_RECEIVE, self.trigger.batch_size - len(batch))
            wait = self.trigger.poll_wait_s
            if window_ends is not None:
                left = window_ends - time.monotonic()
                if left <= 0:
                    break
                wait = min(wait, int(left))  # SQS waits whole seconds
            received = self.source.receive(wanted, wait)
            with self.vitals.lock:
                self.vitals.queue_answered = True
                self.vitals.last_loop = time.monotonic()
            batch += received
            if window_ends is None:
                if not batch or self.trigger.batching_window_s <= 0:
                    break  # nothing yet (round again, and see a stop), or no window to fill
                window_ends = time.monotonic() + self.trigger.batching_window_s
            elif not received and wait == 0:  # under a second left: short polls, spaced
                self.stopping.wait(min(0.25, max(0.0, window_ends - time.monotonic())))
        return batch

    def poll_once(self) -> int:
        """One batch through the handler; how many messages it held."""
        batch = self.gather()
        if not batch:
            return 0
        if self.stopping.is_set():
            self.source.release(batch)  # another consumer takes them at once
            return 0
        failed = self.invoke(batch)
        self.source.delete([m for m in batch if m.message_id not in failed])
        with self.vitals.lock:
            self.vitals.batches += 1
            self.vitals.messages += len(batch)
            self.vitals.failed += len(failed)
        return len(batch)

    def invoke(self, batch: Sequence[QueueMessage]) -> set[str]:
        """The handler on one batch; the ids of the messages that failed (left to come back
        after the visibility timeout, as with Lambda)."""
        trigger = self.trigger
        arn_prefix = self.source.queue_arn.rsplit(":", 1)[0].replace(":sqs:", ":lambda:")
        context = WorkerContext(
            function_name=trigger.function_name,
            memory_limit_in_mb=trigger.memory_mb,
            invoked_function_arn=f"{arn_prefix}:function:{trigger.function_name}",
            deadline=time.monotonic() + trigger.timeout_s,
        )
        event = sqs_event(batch, self.source.queue_arn, trigger.region)
        me = threading.get_ident()
        with self.vitals.lock:
            self.vitals.busy_since[me] = time.monotonic()
        try:
            return failed_ids(self.handler(event, context), batch)
        except Exception:
            log.exception("%s failed a batch of %d", trigger.function_name, len(batch))
            return {m.message_id for m in batch}
        finally:
            with self.vitals.lock:
                self.vitals.busy_since.pop(me, None)
                self.vitals.last_loop = time.monotonic()


@dataclass
class Worker:
    """``concurrency`` consumers of one trigger, each with its own queue client."""

    make_source: Callable[[], MessageSource]
    handler: Handler
    trigger: EventSource
    concurrency: int = 1
    stopping: threading.Event = field(default_factory=threading.Event)
    vitals: Vitals = field(default_factory=Vitals)

    def run(self) -> None:
        """Until ``stop()``, and then until each consumer has finished the batch in hand."""
        consumers = [
            Consumer(self.make_source(), self.handler, self.trigger, self.stopping, self.vitals)
            for _ in range(self.concurrency)
        ]
        threads = [
            threading.Thread(target=c.run, name=f"consumer-{n}") for n, c in enumerate(consumers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> None:
        self.stopping.set()
