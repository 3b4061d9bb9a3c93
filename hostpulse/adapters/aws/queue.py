"""SQS and S3 adapters for ingestion, aggregation and replay."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hostpulse.services.replay.ports import HeldMessage
from hostpulse.services.self_monitoring.watch import QueueStats

ENTRIES_PER_CALL = 10  # SQS's limit for SendMessageBatch
BYTES_PER_CALL = 250 * 1024  # under SQS's 256 KiB per call, with room for the attributes
SEND_WAIT_S = 25.0  # a request gives up on its send past this (the gateway's limit is 29 s)


class QueueSendFailed(RuntimeError):
    """SQS refused a message of a batch call, or did not answer in time."""


@dataclass
class PendingSend:
    body: str
    dedup_key: str
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupedSends:
    """One queue's sends, from every request a process handles at once, in shared
    SendMessageBatch calls: a thread sends the waiting messages, up to SQS's limits per call,
    while the requests that gave them wait for their own outcome. Alone, a message goes at
    once in a call of its own; under load, a call carries those that arrived while the
    previous one was on its way. Fewer calls: less of the SDK's work per batch in ingest, less
    of the queue service's, and on AWS fewer requests to pay for."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.waiting: deque[PendingSend] = deque()
        self.arrived = threading.Condition()
        self.sender: threading.Thread | None = None

    def submit(self, body: str, dedup_key: str) -> PendingSend:
        pending = PendingSend(body, dedup_key)
        with self.arrived:
            self.waiting.append(pending)
            if self.sender is None or not self.sender.is_alive():
                self.sender = threading.Thread(
                    target=self._send_forever, name=f"sqs-send-{self.queue_url}", daemon=True
                )
                self.sender.start()
            self.arrived.notify()
        return pending

    def _next_call(self) -> list[PendingSend]:
        with self.arrived:
            while not self.waiting:
                self.arrived.wait()
            group = [self.waiting.popleft()]
            size = len(group[0].body)
            while self.waiting and len(group) < ENTRIES_PER_CALL:
                size += len(self.waiting[0].body)
                if size > BYTES_PER_CALL:
                    break
                group.append(self.waiting.popleft())
        return group

    def _send_forever(self) -> None:
        while True:
            group = self._next_call()
            try:
                answer = self.sqs.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {
                            "Id": str(number),
                            "MessageBody": pending.body,
                            "MessageAttributes": {
                                "batch": {"DataType": "String", "StringValue": pending.dedup_key}
                            },
                        }
                        for number, pending in enumerate(group)
                    ],
                )
                refused = {f["Id"]: f for f in answer.get("Failed", [])}
                for number, pending in enumerate(group):
                    if str(number) in refused:
                        reason = refused[str(number)]
                        pending.error = QueueSendFailed(
                            f"{reason.get('Code', '?')}: {reason.get('Message', '')}"
                        )
            except Exception as error:  # the whole call failed: every message in it did
                for pending in group:
                    pending.error = error
            for pending in group:
                pending.done.set()


class SqsBatchQueue:
    """Sends each batch to the aggregate queue and the alerts queue at once; returns when
    both hold it, raises when either does not."""

    def __init__(self, sqs: Any, queue_urls: list[str]) -> None:
        self.queues = [GroupedSends(sqs, url) for url in queue_urls]

    def send(self, body: str, dedup_key: str) -> None:
        sends = [queue.submit(body, dedup_key) for queue in self.queues]
        for pending in sends:
            if not pending.done.wait(SEND_WAIT_S):
                raise QueueSendFailed(f"no answer from the queue within {SEND_WAIT_S:.0f} s")
            if pending.error is not None:
                raise pending.error


class S3Archive:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
            ContentEncoding="gzip",
        )

    def get(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                yield str(item["Key"]), int(item["Size"])


class SqsQueueDepth:
    """How many messages a queue still holds: waiting, in flight or delayed. With ``peek``,
    also the age of a dead-letter queue's oldest message (read without consuming it; never
    done on a consumed queue, where each receive counts toward the dead-letter queue)."""

    ATTRIBUTES = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )

    def __init__(self, sqs: Any, peek: bool = False) -> None:
        self.sqs = sqs
        self.peek = peek

    def stats(self, queue_url: str) -> QueueStats:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=list(self.ATTRIBUTES)
        )["Attributes"]
        waiting, in_flight, delayed = (int(attributes.get(name, 0)) for name in self.ATTRIBUTES)
        return QueueStats(waiting, in_flight, delayed)

    def oldest_age_s(self, queue_url: str, now_ms: int) -> float | None:
        """Approximate: the oldest of up to ten messages SQS hands out."""
        if not self.peek:
            return None
        messages = self.sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        sent = [int(m["Attributes"]["SentTimestamp"]) for m in messages if "Attributes" in m]
        return max(0.0, (now_ms - min(sent)) / 1000) if sent else None

    def pending(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=list(self.ATTRIBUTES)
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


class SqsDeadLetters:
    """A dead-letter queue read for replay: messages held while replay decides about them."""

    def __init__(self, sqs: Any, queue_url: str, hold_seconds: int = 600) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.hold_seconds = hold_seconds

    def receive(self, max_messages: int) -> list[HeldMessage]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=self.hold_seconds,
            WaitTimeSeconds=1,
        )
        return [HeldMessage(m["ReceiptHandle"], m["Body"]) for m in answer.get("Messages", [])]

    def delete(self, receipt: str) -> None:
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)

    def release(self, receipt: str) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
        )

    def depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


class SqsDestination:
    """One queue that replayed envelopes go back to."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

    def send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
