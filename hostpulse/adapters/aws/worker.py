"""A function's trigger queue, read by the worker runtime as Lambda's event source reads it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hostpulse.services.worker.ports import QueueMessage

log = logging.getLogger(__name__)


def _chunks(messages: Sequence[QueueMessage]) -> list[Sequence[QueueMessage]]:
    return [messages[i : i + 10] for i in range(0, len(messages), 10)]  # SQS's batch limit


class SqsMessageSource:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn: str = attributes["Attributes"]["QueueArn"]

    def receive(self, max_messages: int, wait_s: int) -> list[QueueMessage]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
        )
        return [
            QueueMessage(m["MessageId"], m["ReceiptHandle"], m["Body"], m.get("Attributes", {}))
            for m in answer.get("Messages", [])
        ]

    def delete(self, messages: Sequence[QueueMessage]) -> None:
        for chunk in _chunks(messages):
            answer = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m.receipt_handle} for n, m in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed", []):
                # Handled but not deleted: it comes back once and is stored as a duplicate.
                log.warning("could not delete a handled message: %s", failure)

    def release(self, messages: Sequence[QueueMessage]) -> None:
        for chunk in _chunks(messages):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                    for n, m in enumerate(chunk)
                ],
            )
