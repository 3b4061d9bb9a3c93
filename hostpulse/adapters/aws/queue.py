"""SQS and S3 adapters for ingestion, aggregation and replay."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hostpulse.services.replay.ports import HeldMessage
from hostpulse.services.self_monitoring.watch import QueueStats


class SqsBatchQueue:
    """Sends each batch to the aggregate queue and the alerts queue; both or an error."""

    def __init__(self, sqs: Any, queue_urls: list[str]) -> None:
        self.sqs = sqs
        self.queue_urls = queue_urls

    def send(self, body: str, dedup_key: str) -> None:
        for url in self.queue_urls:
            self.sqs.send_message(
                QueueUrl=url,
                MessageBody=body,
                MessageAttributes={"batch": {"DataType": "String", "StringValue": dedup_key}},
            )


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
