"""A batch aggregation cannot read (its archived body is missing) fails its receives, waits in
the dead-letter queue where the pipeline view and its alert rule show it, and after the fix
`hostpulse replay` puts it in the tiers.

On the fault suite's cloud (tests/faults/conftest.py), whose aggregate queue dead-letters after
5 receives 5 s apart.
"""

from __future__ import annotations

import gzip
import time
from typing import Any

import psycopg2
import pytest
import requests

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.core.envelope import Envelope, archive_key
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]


def test_a_poison_batch_is_dead_lettered_then_replayed_into_the_tiers(
    fault_cloud: CloudUnderTest,
) -> None:
    cloud = fault_cloud
    endpoints: dict[str, Any] = cloud.endpoints
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    s3 = aws_client("s3", endpoints["region"], endpoints["aws_endpoint_url"])
    host = SyntheticHost("poisoned")
    batch = host.batch([int(time.time() * 1000) - 5000, int(time.time() * 1000)])
    key = archive_key(batch.agent_id, batch.seq, batch.samples[0].ts_ms)
    # A claim check whose object is not there: every receive fails.
    body = Envelope(archive_key=key).encode()
    started = time.monotonic()
    sqs.send_message(QueueUrl=endpoints["queues"]["aggregate"], MessageBody=body)

    def dead_letters() -> int:
        answer = requests.get(f"{endpoints['local_api_url']}/api/v1/pipeline", timeout=30)
        return int(answer.json()["queues"]["aggregate"]["dead_letters"])

    eventually(lambda: dead_letters() == 1, timeout=180, interval=2)
    dead_lettered_after = time.monotonic() - started

    def stored() -> int:
        with psycopg2.connect(endpoints["database_url"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM batches WHERE agent_id = %s", (batch.agent_id,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    assert stored() == 0

    # The fix: the archived body is back. Then the replay.
    s3.put_object(
        Bucket=endpoints["buckets"]["archive"],
        Key=key,
        Body=gzip.compress(batch.model_dump_json().encode()),
    )
    replayed = cloud.cli("replay", "dlq", "aggregate")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "sent 1 " in replayed.stdout
    eventually(lambda: stored() == 1, timeout=60)
    assert dead_letters() == 0
    print(f"poison message: in the dead-letter queue after {dead_lettered_after:.0f} s")
