"""The fixture function on the real local cloud: API Gateway, SQS, EventBridge and the executor."""

from __future__ import annotations

import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.deploy.deployer import Deployer, DeployResult
from hostpulse.deploy.model import load_stack
from tests.support import CloudUnderTest, eventually, pid_alive

pytestmark = pytest.mark.localcloud
PROBE_STACK = Path(__file__).parents[1] / "fixtures" / "probe_stack.yaml"
FUNCTION = "probe-probe"


@pytest.fixture(scope="module")
def probe(local_cloud: CloudUnderTest) -> DeployResult:
    endpoints = local_cloud.endpoints
    stack = load_stack(PROBE_STACK)
    return Deployer(stack, endpoints["aws_endpoint_url"], endpoints["region"]).deploy()


def client(cloud: CloudUnderTest, service: str) -> Any:
    return aws_client(service, cloud.endpoints["region"], cloud.endpoints["aws_endpoint_url"])


def invoke(cloud: CloudUnderTest, event: dict[str, Any]) -> dict[str, Any]:
    response = client(cloud, "lambda").invoke(
        FunctionName=FUNCTION, Payload=json.dumps(event), LogType="Tail"
    )
    return {
        "error": response.get("FunctionError"),
        "payload": json.loads(response["Payload"].read() or b"null"),
        "log": base64.b64decode(response.get("LogResult", "")).decode(),
    }


def test_api_gateway_invokes_the_function(local_cloud: CloudUnderTest, probe: DeployResult) -> None:
    response = requests.get(f"{probe.api_url}/probe/anything?x=1", timeout=30)

    assert response.status_code == 200
    body = response.json()
    assert body["path"] == "/probe/anything"
    assert body["method"] == "GET"


def test_warm_environment_is_reused(local_cloud: CloudUnderTest, probe: DeployResult) -> None:
    first = invoke(local_cloud, {})["payload"]
    second = invoke(local_cloud, {})["payload"]

    assert second["pid"] == first["pid"]
    assert second["started_at"] == first["started_at"]
    assert second["invocations"] == first["invocations"] + 1
    assert second["function_name"] == FUNCTION
    assert 0 < second["remaining_ms"] <= 2000


def test_concurrent_invocations_get_separate_environments(
    local_cloud: CloudUnderTest, probe: DeployResult
) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: invoke(local_cloud, {"sleep": 1.0}), range(3)))

    assert [r["error"] for r in results] == [None, None, None]
    assert len({r["payload"]["pid"] for r in results}) == 3


def test_stdout_and_stderr_are_the_functions_logs(
    local_cloud: CloudUnderTest, probe: DeployResult
) -> None:
    marker = f"marker-{uuid.uuid4()}"

    result = invoke(local_cloud, {"print": marker, "fail": True})

    assert result["error"] == "Unhandled"
    assert result["payload"]["errorType"] == "RuntimeError"
    assert marker in result["log"]
    assert "RuntimeError: the probe was asked to fail" in result["log"]
    assert result["log"].startswith("START RequestId:")
    log_file = local_cloud.state_dir / "logs" / "lambda" / f"{FUNCTION}.log"
    assert marker in log_file.read_text()


def test_timeout_is_enforced_and_the_environment_replaced(
    local_cloud: CloudUnderTest, probe: DeployResult
) -> None:
    started = time.monotonic()

    result = invoke(local_cloud, {"sleep": 30})

    elapsed = time.monotonic() - started
    assert result["error"] == "Unhandled"
    assert result["payload"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in result["payload"]["errorMessage"]
    assert elapsed < 10
    sleeper = int(result["log"].split("probe pid=")[1].split()[0])
    assert not pid_alive(sleeper)
    after = invoke(local_cloud, {})
    assert after["error"] is None
    assert after["payload"]["pid"] != sleeper


def test_a_crashing_runtime_is_reported_and_replaced(
    local_cloud: CloudUnderTest, probe: DeployResult
) -> None:
    crashed = invoke(local_cloud, {"crash": 3})

    assert crashed["error"] == "Unhandled"
    assert crashed["payload"]["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed["payload"]["errorMessage"]
    assert invoke(local_cloud, {})["error"] is None


def test_sqs_partial_batch_failures_reach_the_dead_letter_queue(
    local_cloud: CloudUnderTest, probe: DeployResult
) -> None:
    sqs, s3 = client(local_cloud, "sqs"), client(local_cloud, "s3")
    run = uuid.uuid4().hex[:8]
    good = [f"{run}-ok-{i}" for i in range(3)]
    bad = [f"{run}-bad-{i}" for i in range(2)]
    sqs.send_message_batch(
        QueueUrl=probe.queue_urls["work"],
        Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"id": ident, "fail": ident in bad})}
            for i, ident in enumerate(good + bad)
        ],
    )

    def dead_letters() -> list[str] | None:
        messages = sqs.receive_message(
            QueueUrl=probe.dead_letter_urls["work"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            seen.add(json.loads(message["Body"])["id"])
            sqs.delete_message(
                QueueUrl=probe.dead_letter_urls["work"], ReceiptHandle=message["ReceiptHandle"]
            )
        return sorted(seen) if seen >= set(bad) else None

    seen: set[str] = set()
    assert eventually(dead_letters, timeout=60) == sorted(bad)
    stored = {
        obj["Key"].removeprefix("sqs/")
        for obj in s3.list_objects_v2(Bucket=probe.buckets["results"], Prefix=f"sqs/{run}").get(
            "Contents", []
        )
    }
    assert stored == set(good)


@pytest.mark.slow
def test_an_eventbridge_schedule_fires_the_function(
    local_cloud: CloudUnderTest, probe: DeployResult
) -> None:
    s3 = client(local_cloud, "s3")

    def scheduled() -> list[Any] | None:
        listing = s3.list_objects_v2(Bucket=probe.buckets["results"], Prefix="scheduled/")
        return listing.get("Contents") or None

    objects = eventually(scheduled, timeout=100, interval=2)
    event = json.loads(
        s3.get_object(Bucket=probe.buckets["results"], Key=objects[0]["Key"])["Body"].read()
    )
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
