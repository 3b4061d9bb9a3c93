"""The Kubernetes path on the local cloud: the stack without its SQS triggers (no Lambda reads
the queues), `hostpulse worker aggregate` and `hostpulse worker alerts` in their place. The same
checks as the Lambda path: a fleet through API Gateway, every batch delivered twice, every tier
exactly once and equal to an independent roll-up, and an alert that fires and notifies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.contract import Batch, Cpu
from hostpulse.core.envelope import Envelope
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.alerts.rules import load_rule_set
from hostpulse.simulation.fleet import RequestsTransport, Simulation
from tests.faults.fleet import register_fleet, wait_until_stored
from tests.support import (
    RULES_CACHE_S,
    CloudUnderTest,
    WebhookReceiver,
    WorkerProcess,
    eventually,
    free_port,
    function_env,
    stack_variant,
)
from tests.tier_checks import assert_stored_exactly_once

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]


def without_triggers(stack: dict[str, Any]) -> None:
    stack["triggers"] = []


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudUnderTest]:
    cloud = CloudUnderTest.fresh("worker-path")
    cloud.env["HOSTPULSE_STACK_FILE"] = str(
        stack_variant(tmp_path_factory.mktemp("s"), without_triggers)
    )
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


@pytest.fixture(scope="module")
def workers(
    cloud: CloudUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[WorkerProcess]]:
    endpoints = cloud.endpoints
    env = {
        **function_env(cloud),
        "HOSTPULSE_AGGREGATE_QUEUE_URL": endpoints["queues"]["aggregate"],
        "HOSTPULSE_ALERTS_QUEUE_URL": endpoints["queues"]["alerts"],
        # The shipped description, with its triggers: the workers take their place.
        "HOSTPULSE_STACK_FILE": str(PROJECT_ROOT / "stack" / "stack.yaml"),
        "HOSTPULSE_RULES_CACHE_SECONDS": str(RULES_CACHE_S),
    }
    logs = tmp_path_factory.mktemp("workers")
    started = [
        WorkerProcess.start(env, logs / f"{name}.log", name, "--health-port", str(free_port()))
        for name in ("aggregate", "alerts")
    ]
    yield started
    for worker in started:
        worker.stop()


@pytest.mark.timeout(600)
def test_workers_store_every_batch_once_whatever_is_delivered_twice(
    cloud: CloudUnderTest, workers: list[WorkerProcess]
) -> None:
    endpoints = cloud.endpoints
    agents = register_fleet(endpoints, "k8s", 6)
    accepted: list[Batch] = []
    stats = Simulation(
        agents, endpoints["ingest_url"], RequestsTransport(), interval_s=2, send_every_s=6,
        duration_s=70, on_accepted=accepted.append,
    ).run()  # fmt: skip
    assert (stats.rejected, stats.given_up) == (0, 0), stats.summary()
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    for batch in accepted:  # SQS delivers at least once: every batch a second time
        body = Envelope(inline=batch.model_dump_json().encode()).encode()
        sqs.send_message(QueueUrl=endpoints["queues"]["aggregate"], MessageBody=body)

    wait_until_stored(endpoints["database_url"], agents, accepted, timeout=180)
    time.sleep(10)  # the duplicates still on their way would change nothing
    assert_stored_exactly_once(endpoints["database_url"], accepted)
    assert all(worker.running() for worker in workers), "both workers still running"


@pytest.mark.timeout(300)
def test_the_alerts_worker_fires_and_notifies(
    cloud: CloudUnderTest, workers: list[WorkerProcess]
) -> None:
    endpoints = cloud.endpoints
    receiver = WebhookReceiver()
    [agent] = register_fleet(endpoints, "k8shot", 1)
    rules = f"""
notifiers:
  - {{name: hook, type: webhook, url: '{receiver.url}'}}
rules:
  - name: WorkerPathCpu
    metric: cpu.percent
    op: ">"
    threshold: 90
    hosts: {{names: [{agent.host.hostname}]}}
    notify: [hook]
"""
    PgAlertStore(PgConnector(endpoints["database_url"])).replace_file_rules(load_rule_set(rules))
    try:
        time.sleep(RULES_CACHE_S + 1)  # the alerts worker reads the rules again
        batch = agent.host.batch([int(time.time() * 1000)])
        hot = batch.samples[0].model_copy(update={"cpu": Cpu(percent=97.0)})
        transport = RequestsTransport()
        body = batch.model_copy(update={"samples": [hot]}).model_dump_json().encode()
        answer: Any = transport.post(
            endpoints["ingest_url"], body,
            {"Authorization": f"Bearer {agent.token}", "Content-Type": "application/json"},
        )  # fmt: skip
        assert answer.status == 202
        eventually(lambda: receiver.bodies, timeout=90, interval=1)
        [notification] = receiver.bodies
        assert (notification["rule"], notification["kind"]) == ("WorkerPathCpu", "firing")
        assert notification["host"] == agent.host.hostname and notification["value"] == 97.0
    finally:
        receiver.stop()
