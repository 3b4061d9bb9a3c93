"""The worker runtime against an in-memory SQS: Lambda's event-source semantics without Lambda."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from hostpulse.services.worker.consumer import (
    Consumer,
    EventSource,
    Vitals,
    Worker,
    failed_ids,
)
from hostpulse.services.worker.ports import QueueMessage
from tests.worker_fakes import MemorySqs


class Recorder:
    """A handler that records each batch's bodies and fails the bodies it is told to."""

    def __init__(self, fail: set[str] | None = None, raises: bool = False, pause_s: float = 0):
        self.fail, self.raises, self.pause_s = fail or set(), raises, pause_s
        self.batches: list[list[str]] = []
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.get_remaining_time_in_millis() > 0
        time.sleep(self.pause_s)
        with self.lock:
            self.events.append(event)
            self.batches.append([r["body"] for r in event["Records"]])
        if self.raises:
            raise RuntimeError("the database is away")
        failures = [r["messageId"] for r in event["Records"] if r["body"] in self.fail]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}


def consumer(queue: MemorySqs, handler: Any, **trigger: Any) -> Consumer:
    return Consumer(queue, handler, source(**trigger), threading.Event())


def source(**trigger: Any) -> EventSource:
    return EventSource("aggregate", poll_wait_s=1, **trigger)


def test_only_the_failed_messages_come_back_and_reach_the_dead_letters_after_the_count() -> None:
    queue = MemorySqs(visibility_s=0.1, max_receives=3)
    queue.send("a", "bad", "b")
    handler = Recorder(fail={"bad"})
    worker = consumer(queue, handler, batch_size=10)

    for _ in range(4):
        worker.poll_once()
        time.sleep(0.15)
    worker.poll_once()

    assert queue.deleted == ["a", "b"]
    assert queue.dead == ["bad"]
    assert [batch for batch in handler.batches] == [["a", "bad", "b"], ["bad"], ["bad"]]
    record = handler.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == queue.queue_arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert handler.events[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_a_handler_that_raises_fails_the_whole_batch() -> None:
    queue = MemorySqs(visibility_s=0.1)
    queue.send("a", "b")
    handler = Recorder(raises=True)

    consumer(queue, handler).poll_once()

    assert queue.deleted == [] and queue.waiting == 2
    time.sleep(0.15)
    handler.raises = False
    consumer(queue, handler).poll_once()
    assert sorted(queue.deleted) == ["a", "b"]


def test_batches_fill_up_to_their_size_within_the_window() -> None:
    queue = MemorySqs(visibility_s=30)
    queue.send(*[f"m{n}" for n in range(25)])
    handler = Recorder()
    worker = consumer(queue, handler, batch_size=12, batching_window_s=0.3)

    while worker.poll_once():
        pass

    assert [len(batch) for batch in handler.batches] == [12, 12, 1]


def test_without_a_window_a_batch_is_what_one_receive_brings() -> None:
    queue = MemorySqs(visibility_s=30)
    queue.send(*[f"m{n}" for n in range(25)])
    handler = Recorder()

    consumer(queue, handler, batch_size=25, batching_window_s=0).poll_once()

    assert [len(batch) for batch in handler.batches] == [10]  # SQS gives at most 10 a call


def test_consumers_in_parallel_handle_each_message_once() -> None:
    queue = MemorySqs(visibility_s=30)
    bodies = [f"m{n}" for n in range(200)]
    queue.send(*bodies)
    handler = Recorder(pause_s=0.01)
    worker = Worker(lambda: queue, handler, source(batch_size=5), concurrency=4)
    runner = threading.Thread(target=worker.run)
    runner.start()
    deadline = time.monotonic() + 30
    while queue.waiting and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    runner.join(timeout=30)

    seen = Counter(body for batch in handler.batches for body in batch)
    assert set(seen) == set(bodies) and max(seen.values()) == 1
    assert sorted(queue.deleted) == sorted(bodies)
    assert worker.vitals.messages == 200


def test_a_stop_lets_the_batch_in_hand_finish_and_releases_the_rest() -> None:
    queue = MemorySqs(visibility_s=30)
    queue.send("first")
    handler = Recorder(pause_s=0.5)
    worker = Worker(lambda: queue, handler, source(batch_size=1))
    runner = threading.Thread(target=worker.run)
    runner.start()
    time.sleep(0.2)  # the first batch is in the handler
    queue.send("second")
    worker.stop()
    runner.join(timeout=10)

    assert not runner.is_alive()
    assert queue.deleted == ["first"], "the batch in hand was finished and deleted"
    assert queue.waiting == 1 and queue._take(1)[0].body == "second", "visible again at once"


def test_a_gathered_batch_after_a_stop_is_released_not_handled() -> None:
    queue = MemorySqs(visibility_s=30)
    queue.send("late")
    handler = Recorder()
    worker = consumer(queue, handler)
    real_receive = queue.receive

    def receive_then_stop(max_messages: int, wait_s: int) -> list[QueueMessage]:
        received = real_receive(max_messages, wait_s)
        worker.stopping.set()  # SIGTERM while the receive was on its way
        return received

    queue.receive = receive_then_stop  # type: ignore[method-assign]
    worker.poll_once()

    assert handler.batches == []
    assert queue.waiting == 1 and queue._take(1), "released: visible at once"


def test_a_handler_running_past_its_timeout_fails_liveness() -> None:
    vitals = Vitals()
    assert vitals.alive(timeout_s=30)
    vitals.busy_since[1] = time.monotonic() - 31

    assert not vitals.alive(timeout_s=30)


MESSAGES = [QueueMessage("m1", "r1", "a"), QueueMessage("m2", "r2", "b")]


@pytest.mark.parametrize(
    ("answer", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{"id": "m1"}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}, {"m1", "m2"}),
        ({"batchItemFailures": "m1"}, {"m1", "m2"}),
        ("ok", {"m1", "m2"}),
    ],
)
def test_answers_are_read_as_lambda_reads_them(answer: Any, failed: set[str]) -> None:
    assert failed_ids(answer, MESSAGES) == failed


def test_a_queue_that_does_not_answer_makes_the_worker_unready_but_not_dead() -> None:
    class Away:
        queue_arn = "arn:aws:sqs:us-east-1:000000000000:gone"

        def receive(self, max_messages: int, wait_s: int) -> list[QueueMessage]:
            raise ConnectionError("the queue is away")

        def delete(self, messages: Any) -> None: ...

        def release(self, messages: Any) -> None: ...

    worker = Worker(Away, Recorder(), source())
    runner = threading.Thread(target=worker.run)
    runner.start()
    time.sleep(0.5)
    worker.stop()
    runner.join(timeout=10)

    assert not worker.vitals.queue_answered
    assert worker.vitals.alive(timeout_s=30), "a restart would not bring the queue back"
