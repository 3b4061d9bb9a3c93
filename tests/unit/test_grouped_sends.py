"""Ingest's sends to SQS, grouped across the requests a process handles at once: every batch
reaches both queues exactly once, a call never passes SQS's limits, and each request learns the
outcome of its own message, whatever happened to the others in its call."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostpulse.adapters.aws.queue import (
    BYTES_PER_CALL,
    ENTRIES_PER_CALL,
    QueueSendFailed,
    SqsBatchQueue,
)


class RecordingSqs:
    """SendMessageBatch as SQS answers it: each call takes a while; some entries refused."""

    def __init__(self, refuse: set[str] | None = None, call_s: float = 0.01) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.refuse = refuse or set()
        self.call_s = call_s
        self.lock = threading.Lock()
        self.down = False

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 -- boto3's names
        time.sleep(self.call_s)
        if self.down:
            raise ConnectionError("queue service away")
        with self.lock:
            self.calls.append((QueueUrl, Entries))
        failed = [
            {"Id": e["Id"], "Code": "InternalError", "Message": "try again", "SenderFault": False}
            for e in Entries
            if e["MessageAttributes"]["batch"]["StringValue"] in self.refuse
        ]
        return {"Successful": [], "Failed": failed}

    def delivered(self, url: str) -> list[str]:
        return [
            e["MessageAttributes"]["batch"]["StringValue"]
            for called, entries in self.calls
            if called == url
            for e in entries
        ]


def send_all(queue: SqsBatchQueue, keys: list[str], bodies: dict[str, str]) -> dict[str, str]:
    def one(key: str) -> str:
        try:
            queue.send(bodies[key], key)
        except Exception as error:
            return type(error).__name__
        return "ok"

    with ThreadPoolExecutor(max_workers=32) as pool:
        return dict(zip(keys, pool.map(one, keys), strict=True))


def test_concurrent_sends_share_calls_and_each_reaches_both_queues_once() -> None:
    sqs = RecordingSqs()
    queue = SqsBatchQueue(sqs, ["aggregate", "alerts"])
    keys = [f"agent:{n}" for n in range(200)]

    outcomes = send_all(queue, keys, {k: f'{{"batch": "{k}"}}' for k in keys})

    assert set(outcomes.values()) == {"ok"}
    for url in ("aggregate", "alerts"):
        assert sorted(sqs.delivered(url)) == sorted(keys)
        calls = [entries for called, entries in sqs.calls if called == url]
        assert all(len(entries) <= ENTRIES_PER_CALL for entries in calls)
        assert len(calls) < len(keys) / 2, "the sends waiting together went together"


def test_a_refused_message_fails_its_own_request_only() -> None:
    sqs = RecordingSqs(refuse={"agent:7"})
    queue = SqsBatchQueue(sqs, ["aggregate", "alerts"])
    keys = [f"agent:{n}" for n in range(40)]

    outcomes = send_all(queue, keys, dict.fromkeys(keys, "{}"))

    assert outcomes.pop("agent:7") == "QueueSendFailed"
    assert set(outcomes.values()) == {"ok"}


def test_a_failed_call_fails_its_requests_and_the_next_ones_go_through() -> None:
    sqs = RecordingSqs()
    queue = SqsBatchQueue(sqs, ["aggregate", "alerts"])
    sqs.down = True
    with pytest.raises(ConnectionError):
        queue.send("{}", "agent:1")
    sqs.down = False
    queue.send("{}", "agent:2")
    assert sqs.delivered("aggregate") == ["agent:2"]


def test_a_queue_that_never_answers_gives_the_request_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hostpulse.adapters.aws.queue.SEND_WAIT_S", 0.2)
    queue = SqsBatchQueue(RecordingSqs(call_s=2.0), ["aggregate"])
    with pytest.raises(QueueSendFailed, match="no answer"):
        queue.send("{}", "agent:1")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=BYTES_PER_CALL), min_size=1, max_size=30))
def test_no_call_passes_the_size_limit_and_every_message_goes(sizes: list[int]) -> None:
    sqs = RecordingSqs(call_s=0.002)
    queue = SqsBatchQueue(sqs, ["aggregate"])
    keys = [f"agent:{n}" for n in range(len(sizes))]

    outcomes = send_all(queue, keys, {k: "x" * size for k, size in zip(keys, sizes, strict=True)})

    assert set(outcomes.values()) == {"ok"}
    assert sorted(sqs.delivered("aggregate")) == sorted(keys)
    for _, entries in sqs.calls:
        assert len(entries) == 1 or sum(len(e["MessageBody"]) for e in entries) <= BYTES_PER_CALL
