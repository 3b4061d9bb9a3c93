"""`hostpulse worker aggregate` against the local cloud's SQS and PostgreSQL: the aggregate
handler without Lambda stores every batch once whatever is delivered twice, sends a poison
message to the dead-letter queue after the receive count, answers its probes, and a SIGTERM
in the middle of the work loses nothing."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.core.contract import Batch
from hostpulse.core.envelope import Envelope
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.simulation.host import SyntheticHost
from tests.support import (
    HOSTPULSE,
    CloudUnderTest,
    WorkerProcess,
    eventually,
    free_port,
    function_env,
)
from tests.tier_checks import assert_stored_exactly_once, stored_batches

pytestmark = pytest.mark.localcloud


@dataclass
class Queue:
    url: str
    dead_letter_url: str
    sqs: Any

    def send(self, *bodies: str) -> None:
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(n), "MessageBody": body}
                for n, body in enumerate(bodies[start : start + 10])
            ]
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)

    def dead_letters(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def queue(local_cloud: CloudUnderTest) -> Iterator[Queue]:
    """A queue of its own (the stack's are consumed by its functions), with a dead-letter
    queue after 2 receives and a visibility timeout of 3 s."""
    endpoints = local_cloud.endpoints
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    name = f"worker-test-{time.time_ns() % 10**8}"
    dead = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": 2}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": "3", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    yield Queue(url, dead, sqs)
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dead)


def start_worker(cloud: CloudUnderTest, queue: Queue, health_port: int, log: Path) -> WorkerProcess:
    return WorkerProcess.start(
        function_env(cloud), log, "aggregate", "--queue-url", queue.url,
        "--health-port", str(health_port), "--concurrency", "2",
    )  # fmt: skip


def probe(port: int, path: str) -> int:
    try:
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code
    except requests.RequestException:
        return 0


def envelope(batch: Batch) -> str:
    return Envelope(inline=batch.model_dump_json().encode()).encode()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_worker_stores_each_batch_once_and_dead_letters_the_poison(
    local_cloud: CloudUnderTest, queue: Queue, tmp_path: Path
) -> None:
    url = local_cloud.endpoints["database_url"]
    hosts = [SyntheticHost(f"worker-{time.time_ns() % 10**8}-{n}", cores=2) for n in range(3)]
    now = int(time.time() * 1000)
    batches = [
        h.batch([now - 4000 + 1000 * i, now - 3500 + 1000 * i]).model_copy(update={"seq": i})
        for h in hosts
        for i in range(4)
    ]
    port = free_port()
    worker = start_worker(local_cloud, queue, port, tmp_path / "worker.log")
    try:
        eventually(lambda: probe(port, "/readyz") == 200, timeout=60)
        queue.send(*(envelope(b) for b in batches), "not an envelope")
        queue.send(*(envelope(b) for b in batches[:5]))  # delivered twice
        names = [h.hostname for h in hosts]
        eventually(lambda: stored_batches(url, names) == len(batches), timeout=60, interval=1)
        eventually(lambda: queue.dead_letters() == 1, timeout=60, interval=1)
        assert probe(port, "/livez") == 200
    finally:
        output = worker.stop()

    assert_stored_exactly_once(url, batches)
    summary = re.search(r"stopped: \d+ batches, (\d+) messages, (\d+) failed", output)
    assert summary is not None, output
    messages, failed = map(int, summary.groups())
    assert messages >= len(batches) + 5 + 2 and failed >= 2, "the poison failed on each receive"


@pytest.mark.timeout(300)
def test_a_sigterm_in_the_middle_of_the_work_loses_nothing(
    local_cloud: CloudUnderTest, queue: Queue, tmp_path: Path
) -> None:
    url = local_cloud.endpoints["database_url"]
    host = SyntheticHost(f"sigterm-{time.time_ns() % 10**8}", cores=2)
    now = int(time.time() * 1000)
    # Ten times what its two consumers take at once (the aggregate trigger's 100 messages
    # each), so that the stop comes with work left: with 300 it once stored them all first.
    count = 2000
    batches = [
        host.batch([now - 100_000 + 50 * i]).model_copy(update={"seq": i}) for i in range(count)
    ]
    queue.send(*(envelope(b) for b in batches))
    first = start_worker(local_cloud, queue, free_port(), tmp_path / "first.log")
    eventually(lambda: stored_batches(url, [host.hostname]) > 0, timeout=60, interval=0.2)
    first.stop()  # SIGTERM while batches are being handled
    stored_then = stored_batches(url, [host.hostname])

    port = free_port()
    second = start_worker(local_cloud, queue, port, tmp_path / "second.log")
    try:
        # Its probes answer once it handles SIGTERM: stopped before that (the first worker
        # may have stored everything already), it would die of the signal instead.
        eventually(lambda: probe(port, "/livez") == 200, timeout=60, interval=0.2)
        eventually(lambda: stored_batches(url, [host.hostname]) == count, timeout=180, interval=1)
    finally:
        second.stop()
    assert stored_then < count, "the first worker was stopped before the end: the test tested"
    assert_stored_exactly_once(url, batches)
    assert queue.dead_letters() == 0


def test_a_scheduled_function_runs_once_as_a_cronjob_would(local_cloud: CloudUnderTest) -> None:
    env = function_env(local_cloud)

    retention = subprocess.run(
        [*HOSTPULSE, "invoke", "retention"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    tick = subprocess.run(
        [*HOSTPULSE, "invoke", "alerts-tick"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    unknown = subprocess.run(
        [*HOSTPULSE, "invoke", "nothing"], env=env, capture_output=True, text=True, check=False
    )

    assert retention.returncode == 0, retention.stdout + retention.stderr
    assert "dropped" in json.loads(retention.stdout.strip().splitlines()[-1])
    assert tick.returncode == 0, tick.stdout + tick.stderr
    assert "fired" in json.loads(tick.stdout.strip().splitlines()[-1])
    assert unknown.returncode == 2 and "no function 'nothing'" in unknown.stdout


def test_provision_creates_the_queues_and_buckets_and_no_function(
    local_cloud: CloudUnderTest, tmp_path: Path
) -> None:
    stack = yaml.safe_load((PROJECT_ROOT / "stack" / "stack.yaml").read_text())
    stack["name"] = f"prov{time.time_ns() % 10**6}"
    (tmp_path / "stack.yaml").write_text(yaml.safe_dump(stack))
    env = {**function_env(local_cloud), "HOSTPULSE_STACK_FILE": str(tmp_path / "stack.yaml")}

    def provision() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HOSTPULSE, "provision"], env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip

    first, again = provision(), provision()

    assert first.returncode == 0, first.stdout + first.stderr
    lines = dict(line.split("=", 1) for line in first.stdout.splitlines() if "=" in line)
    endpoints = local_cloud.endpoints
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    redrive = sqs.get_queue_attributes(
        QueueUrl=lines["HOSTPULSE_AGGREGATE_QUEUE_URL"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]["RedrivePolicy"]
    assert json.loads(redrive)["maxReceiveCount"] == 10
    s3 = aws_client("s3", endpoints["region"], endpoints["aws_endpoint_url"])
    s3.head_bucket(Bucket=lines["HOSTPULSE_ARCHIVE_BUCKET"])
    functions = aws_client("lambda", endpoints["region"], endpoints["aws_endpoint_url"])
    names = [f["FunctionName"] for f in functions.list_functions()["Functions"]]
    assert not [n for n in names if n.startswith(stack["name"])], "no function deployed"
    assert again.returncode == 0 and "hostpulse:" not in again.stdout, "nothing changed twice"
