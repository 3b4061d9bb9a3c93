"""The pipeline view on the real local cloud: the API, /metrics and `hostpulse status` see a
dead-lettered batch, and a replay clears it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.core.envelope import Envelope
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, eventually, post, post_batch

pytestmark = pytest.mark.localcloud
NewAgent = Callable[[str], tuple[str, str]]


def pipeline(cloud: CloudUnderTest, base: str) -> dict[str, Any]:
    answer = requests.get(f"{cloud.endpoints[base]}/api/v1/pipeline", timeout=60)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def dead_letters(cloud: CloudUnderTest) -> int:
    return int(pipeline(cloud, "local_api_url")["queues"]["aggregate"]["dead_letters"])


def test_a_dead_lettered_batch_shows_everywhere_until_replayed(local_cloud: CloudUnderTest) -> None:
    endpoints = local_cloud.endpoints
    before = dead_letters(local_cloud)
    host = SyntheticHost(f"pipeline-{time.time_ns() % 10**8}")
    body = Envelope(inline=host.batch([int(time.time() * 1000)]).model_dump_json().encode())
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    sqs.send_message(
        QueueUrl=endpoints["dead_letter_queues"]["aggregate"], MessageBody=body.encode()
    )

    eventually(lambda: dead_letters(local_cloud) == before + 1, timeout=30)
    through_lambda = pipeline(local_cloud, "api_url")  # the api function behind API Gateway
    assert through_lambda["queues"]["aggregate"]["dead_letters"] == before + 1
    assert through_lambda["status"] == "degraded"
    assert any("replay dlq aggregate" in p for p in through_lambda["problems"])

    scrape = requests.get(f"{endpoints['local_api_url']}/metrics", timeout=30)
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    expected = f'hostpulse_dead_letter_messages{{queue="aggregate"}} {before + 1}.0'
    assert expected in scrape.text

    status = local_cloud.cli("status")
    assert status.returncode == 0, status.stdout
    assert "aggregate lag:" in status.stdout
    row = next(line for line in status.stdout.splitlines() if line.startswith("aggregate "))
    assert row.split()[4] == str(before + 1)  # the DEAD column
    assert "OLDEST DEAD" in status.stdout and row.split()[5].isdigit()  # peeked: seconds

    replayed = local_cloud.cli("replay", "dlq", "aggregate", "--host", host.hostname)
    assert replayed.returncode == 0, replayed.stdout
    eventually(lambda: dead_letters(local_cloud) == before, timeout=30)


def history(cloud: CloudUnderTest, base: str, since: str = "-15m") -> dict[str, Any]:
    answer = requests.get(
        f"{cloud.endpoints[base]}/api/v1/pipeline/history", params={"from": since}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def total(column: list[float | None]) -> float:
    return sum(value or 0 for value in column)


def since_minute(seen: dict[str, Any], column: str, first_ms: int) -> float:
    """The column's total over the minutes from first_ms on: the window slides while the test
    waits, so a total over the whole window can fall as older minutes leave it."""
    pairs = zip(seen["minutes_ms"], seen[column], strict=True)
    return sum(value or 0 for minute, value in pairs if minute >= first_ms)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_the_history_counts_every_batch_minute_by_minute(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    now = int(time.time() * 1000)
    first = now - now % 60_000 - 60_000  # the samples below may fall in the minute before
    base = history(local_cloud, "local_api_url")
    before = tuple(since_minute(base, c, first) for c in ("ingest_batches", "aggregate_stored"))
    name, token = new_agent("history")
    host = SyntheticHost(name)
    for seq in range(6):
        sent = host.batch([now - 1000 * (6 - seq)]).model_copy(update={"seq": seq})
        assert post_batch(local_cloud, sent, token).status_code == 202
    assert post(local_cloud.endpoints["ingest_url"], b"{}", "hp_wrong").status_code == 401

    # The schedule closes each minute once it has ended: within about two minutes.
    def counted() -> dict[str, Any] | None:
        seen = history(local_cloud, "local_api_url")
        batches = since_minute(seen, "ingest_batches", first)
        stored = since_minute(seen, "aggregate_stored", first)
        return seen if batches >= before[0] + 6 and stored >= before[1] + 6 else None

    seen = eventually(counted, timeout=240, interval=5)
    assert total(seen["ingest_refused"]) >= 1
    latencies = [v for v in seen["latency_p95_ms"] if v is not None]
    assert latencies and all(0 < v <= 10_000 for v in latencies)
    assert "aggregate" in seen["queues"] and "alerts" in seen["queues"]
    assert len(seen["minutes_ms"]) == len(seen["ingest_batches"]) >= 15
    through_lambda = history(local_cloud, "api_url")  # the api function reads the same rows
    assert since_minute(through_lambda, "ingest_batches", first) >= before[0] + 6

    status = local_cloud.cli("status")
    assert status.returncode == 0, status.stdout
    assert "last 15 min: ingest " in status.stdout and " refused, " in status.stdout
