"""SQS and S3 adapters for ingestion and aggregation."""

from __future__ import annotations

from typing import Any


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


class SqsQueueDepth:
    """How many messages a queue still holds: waiting, in flight or delayed."""

    ATTRIBUTES = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def pending(self, queue_url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=list(self.ATTRIBUTES)
        )["Attributes"]
        return sum(int(value) for value in attributes.values())
