"""`hostpulse replay` on the real local cloud: dead-lettered batches reach the tiers, and a host's
tiers rebuilt from the archive are identical to what they were, however often it runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg2
import pytest

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.core.contract import Batch
from hostpulse.core.envelope import Envelope
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, eventually, post_batch
from tests.tier_checks import BUCKETED, roll_up_until

pytestmark = pytest.mark.localcloud
NewAgent = Callable[[str], tuple[str, str]]

TIERS: dict[str, str] = {
    "raw": "SELECT s.metric, r.ts, r.value FROM raw_values r JOIN series s ON s.id = r.series_id"
    " WHERE s.host = %s ORDER BY 1, 2",
    "1m": "SELECT s.metric, m.bucket, m.min, m.max, m.sum, m.count, m.last, m.last_ts"
    " FROM samples_1m m JOIN series s ON s.id = m.series_id WHERE s.host = %s ORDER BY 1, 2",
    **{
        name: "SELECT s.metric, t.bucket, t.min, t.max, t.sum, t.count, t.last, t.last_ts"
        f" FROM {tier.table} t JOIN series s ON s.id = t.series_id WHERE s.host = %s ORDER BY 1, 2"
        for name, tier in BUCKETED.items()
        if tier.rolled
    },
    "processes": "SELECT * FROM process_rows WHERE host = %s ORDER BY ts, pid",
}


def sql(cloud: CloudUnderTest, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg2.connect(cloud.endpoints["database_url"]) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return list(cur.fetchall()) if cur.description else []


def tiers_of(cloud: CloudUnderTest, host: str) -> dict[str, list[tuple[Any, ...]]]:
    roll_up_until(cloud.endpoints["database_url"])
    return {tier: sql(cloud, statement, host) for tier, statement in TIERS.items()}


def recent(count: int, step_ms: int = 5000) -> list[int]:
    now = int(time.time() * 1000)
    return [now - step_ms * (count - 1 - i) for i in range(count)]


def replay(cloud: CloudUnderTest, *args: str) -> tuple[int, str]:
    run = cloud.cli("replay", *args, timeout=300)
    return run.returncode, run.stdout + run.stderr


def dead_letter(cloud: CloudUnderTest, batch: Batch) -> None:
    endpoints = cloud.endpoints
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    body = Envelope(inline=batch.model_dump_json().encode()).encode()
    sqs.send_message(QueueUrl=endpoints["dead_letter_queues"]["aggregate"], MessageBody=body)


def stored(cloud: CloudUnderTest, agent: str) -> int:
    return len(sql(cloud, "SELECT 1 FROM batches WHERE agent_id = %s", agent))


@pytest.mark.slow
def test_dead_lettered_batches_go_back_selected_and_reach_the_tiers(
    local_cloud: CloudUnderTest,
) -> None:
    suffix = str(time.time_ns())[-8:]
    first, second = SyntheticHost(f"dlq-a-{suffix}"), SyntheticHost(f"dlq-b-{suffix}")
    dead_letter(local_cloud, first.batch(recent(2)))
    dead_letter(local_cloud, second.batch(recent(2)))

    dry_status, dry = replay(local_cloud, "dlq", "aggregate", "--dry-run")
    time.sleep(3)
    assert dry_status == 0 and "would send" in dry
    assert stored(local_cloud, first.agent_id) == 0  # a dry run sends nothing

    status, output = replay(local_cloud, "dlq", "aggregate", "--host", first.hostname)
    assert status == 0, output
    eventually(lambda: stored(local_cloud, first.agent_id), timeout=60)
    assert stored(local_cloud, second.agent_id) == 0  # not selected: still dead-lettered

    status, output = replay(local_cloud, "dlq", "aggregate", "--rate", "20")
    assert status == 0, output
    eventually(lambda: stored(local_cloud, second.agent_id), timeout=60)
    again_status, again = replay(local_cloud, "dlq", "aggregate")
    assert again_status == 0 and "sent 0" in again


@pytest.mark.slow
def test_a_hosts_tiers_rebuilt_from_the_archive_are_identical(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("rebuild")
    host = SyntheticHost(name, cores=2)
    timestamps = recent(24)
    for chunk in range(4):
        batch = host.batch(timestamps[chunk * 6 : (chunk + 1) * 6])
        assert post_batch(local_cloud, batch, token).status_code == 202
    eventually(lambda: stored(local_cloud, name) == 4, timeout=60)
    before = tiers_of(local_cloud, name)
    assert all(before.values())
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamps[0] / 1000 - 60))

    # The host's data is lost, as with a database restored from an older backup.
    for statement in (
        "DELETE FROM samples_raw WHERE host = %s",
        "DELETE FROM samples_1m WHERE series_id IN (SELECT id FROM series WHERE host = %s)",
        *(
            f"DELETE FROM {tier.table} WHERE series_id IN (SELECT id FROM series WHERE host = %s)"
            for tier in BUCKETED.values()
            if tier.rolled
        ),
        "DELETE FROM processes_raw WHERE host = %s",
        "DELETE FROM batches WHERE agent_id = %s",
    ):
        sql(local_cloud, statement, name)
    assert not any(tiers_of(local_cloud, name).values())

    # The archive holds a group once the aggregate function stored it: wait until all are in.
    window = ["archive", "--since", since, "--until", "now", "--host", name]
    eventually(lambda: "would send 4 " in replay(local_cloud, *window, "--dry-run")[1], 60)
    status, output = replay(local_cloud, *window)
    assert status == 0 and "sent 4 " in output, output
    eventually(lambda: stored(local_cloud, name) == 4, timeout=60)
    eventually(lambda: tiers_of(local_cloud, name) == before, timeout=60)

    # Replayed again, twice: the tiers stay exactly as one delivery left them.
    for _ in range(2):
        status, output = replay(local_cloud, *window)
        assert status == 0 and "sent 4 " in output, output
    time.sleep(5)
    assert tiers_of(local_cloud, name) == before
