"""Ingest → Redis and SQS → aggregate → PostgreSQL, through API Gateway on the real local cloud."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest
import redis
import requests

from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.metrics import PgMetricStore
from hostpulse.adapters.redis import keys as hot
from hostpulse.adapters.redis.hot import RedisHotReader, RedisHotStore
from hostpulse.core.contract import Batch, metric_values
from hostpulse.core.envelope import Envelope
from hostpulse.deploy.model import load_stack
from hostpulse.localcloud.settings import PROJECT_ROOT
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.host import SyntheticHost
from tests.events import sqs_event
from tests.support import CloudUnderTest, eventually, post, post_batch
from tests.tier_checks import roll_up_until

pytestmark = pytest.mark.localcloud
NewAgent = Callable[[str], tuple[str, str]]


def query(cloud: CloudUnderTest, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg2.connect(cloud.endpoints["database_url"]) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def recent(samples: int) -> list[int]:
    now = int(time.time() * 1000)
    return [now - 5000 * (samples - 1 - i) for i in range(samples)]


def test_an_accepted_batch_reaches_every_tier(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("spine")
    host = SyntheticHost(name, cores=2)
    batch = host.batch(recent(3))
    live = redis.Redis.from_url(local_cloud.endpoints["redis_url"])
    pubsub = live.pubsub()  # type: ignore[no-untyped-call]
    pubsub.subscribe(hot.live_channel(name))
    pubsub.get_message(timeout=2)  # the subscription confirmation

    response = post_batch(local_cloud, batch, token)

    assert response.status_code == 202
    answer = response.json()
    assert (answer["accepted_seq"], answer["samples"]) == (0, 3)
    assert isinstance(answer["config_version"], int), "what the host's agent should run"
    message = pubsub.get_message(timeout=5)
    assert message is not None and json.loads(message["data"])["host"] == name
    assert live.hget(hot.latest_key(name), "ts") == str(batch.samples[-1].ts_ms).encode()
    assert live.zcard(hot.window_key(name)) == 3
    assert live.zscore(hot.HOSTS, name) == batch.samples[-1].ts_ms

    per_sample = len(list(metric_values(batch.samples[0])))
    eventually(lambda: query(local_cloud, "SELECT 1 FROM batches WHERE agent_id = %s", name), 30)
    [(raw,)] = query(
        local_cloud,
        "SELECT count(*) FROM raw_values r JOIN series s ON s.id = r.series_id WHERE s.host = %s",
        name,
    )
    assert raw == 3 * per_sample
    [(processes,)] = query(local_cloud, "SELECT count(*) FROM process_rows WHERE host = %s", name)
    assert processes == 3 * len(batch.samples[0].processes)
    roll_up_until(local_cloud.endpoints["database_url"])
    [(minutes, hours)] = query(
        local_cloud,
        "SELECT (SELECT count(*) FROM samples_1m m JOIN series s ON s.id = m.series_id "
        "WHERE s.host = %s), (SELECT count(*) FROM samples_1h h JOIN series s "
        "ON s.id = h.series_id WHERE s.host = %s)",
        name, name,
    )  # fmt: skip
    assert minutes >= per_sample and hours >= per_sample

    endpoints = local_cloud.endpoints
    s3 = aws_client("s3", endpoints["region"], endpoints["aws_endpoint_url"])
    bucket = endpoints["buckets"]["archive"]

    def archived() -> list[Batch]:
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="batches/"):
            for obj in page.get("Contents", []):
                data = gzip.decompress(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                found += [Batch.model_validate_json(line) for line in data.splitlines()]
        return [b for b in found if b.agent_id == name]

    assert eventually(archived, timeout=30) == [batch]


@pytest.mark.parametrize(
    ("body", "token", "headers", "status"),
    [
        (b"{}", None, {}, 401),
        (b"{}", "hp_not-a-real-token", {}, 401),
        (b"{broken", "TOKEN", {}, 400),
        # A corrupt gzip stream is not here: LocalStack's gateway inflates gzip bodies itself
        # and answers 500 before the function runs. The function's own 400 is a unit test.
        (b" " * (1024 * 1024 + 1), "TOKEN", {}, 413),
        (
            b'{"schema_version": 1, "agent_id": "AGENT", "seq": 5, "host": {"hostname": "h"},'
            b' "samples": [{"ts_ms": NOW, "cpu": {"percent": NaN}}]}',
            "TOKEN",
            {},
            422,
        ),
    ],
)
def test_bad_input_through_api_gateway_gets_its_4xx_and_stores_nothing(
    local_cloud: CloudUnderTest,
    new_agent: NewAgent,
    body: bytes,
    token: str | None,
    headers: dict[str, str],
    status: int,
) -> None:
    name, real_token = new_agent("bad")
    body = body.replace(b"AGENT", name.encode()).replace(b"NOW", str(recent(1)[0]).encode())

    response = post(
        local_cloud.endpoints["ingest_url"],
        body,
        real_token if token == "TOKEN" else token,
        **headers,
    )

    assert response.status_code == status, response.text
    assert response.json()["message"]
    assert query(local_cloud, "SELECT 1 FROM batches WHERE agent_id = %s", name) == []


def test_the_seed_endpoint_lands_in_the_same_tiers(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("seed")
    snapshot = {
        "timestamp": time.time(), "total_cpu_percent": 42.0, "per_core_cpu_percent": [40.0, 44.0],
        "system_memory_total_mb": 1024, "system_memory_used_mb": 256,
        "top_processes": [{"pid": 7, "name": "seedproc", "cpu_percent": 3.0, "memory_mb": 5,
                           "thread_count": 1, "io_read_mb": 0, "io_write_mb": 0,
                           "handle_count": 4}],
    }  # fmt: skip
    url = local_cloud.endpoints["ingest_url"].replace("/v1/ingest", "/ingest/metrics")

    response = requests.post(url, json=snapshot, headers={"X-Agent-Token": token}, timeout=60)

    assert response.status_code == 202, response.text
    rows = eventually(
        lambda: query(local_cloud, "SELECT name FROM process_rows WHERE host = %s", name), 30
    )
    assert rows == [("seedproc",)]


def test_an_agent_over_its_rate_gets_429_with_retry_after(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("burst")
    host = SyntheticHost(name)
    statuses: list[int] = []
    retry_after: set[str] = set()

    for _ in range(40):  # the deployed burst is 30 batches
        response = post_batch(local_cloud, host.batch(recent(1)), token)
        statuses.append(response.status_code)
        if response.status_code == 429:
            retry_after.add(response.headers["Retry-After"])
            break

    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {202}
    assert retry_after and all(int(v) >= 1 for v in retry_after)


def test_while_this_deployment_drains_ingest_answers_503_and_queues_nothing(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("drain")
    host = SyntheticHost(name)
    live = redis.Redis.from_url(local_cloud.endpoints["redis_url"])
    ours = hot.draining_key(local_cloud.endpoints["queues"]["aggregate"])
    another = hot.draining_key("http://elsewhere/000000000000/another-aggregate")

    live.set(another, "1", ex=60)
    try:
        assert post_batch(local_cloud, host.batch(recent(1)), token).status_code == 202
        live.set(ours, "1", ex=60)
        refused = post_batch(local_cloud, host.batch(recent(1)), token)
    finally:
        live.delete(ours, another)

    assert refused.status_code == 503
    assert "shutting down" in refused.json()["message"]
    assert refused.headers["Retry-After"] == "5"
    eventually(lambda: query(local_cloud, "SELECT 1 FROM batches WHERE agent_id = %s", name), 30)
    time.sleep(2)  # the batching window: the refused batch would have landed by now
    assert query(local_cloud, "SELECT seq FROM batches WHERE agent_id = %s", name) == [(0,)]


def test_the_query_api_answers_on_lambda_and_under_uvicorn(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("query")
    batch = SyntheticHost(name, cores=2).batch(recent(4))
    assert post_batch(local_cloud, batch, token).status_code == 202
    eventually(lambda: query(local_cloud, "SELECT 1 FROM batches WHERE agent_id = %s", name), 30)

    for base in (local_cloud.endpoints["api_url"], local_cloud.endpoints["local_api_url"]):
        hosts = requests.get(f"{base}/api/v1/hosts", timeout=30).json()["hosts"]
        assert {"host": name, "status": "live"}.items() <= next(
            h for h in hosts if h["host"] == name
        ).items()
        series = requests.get(
            f"{base}/api/v1/series",
            params={"host": name, "metric": "cpu.percent", "from": "-10m"},
            timeout=30,
        ).json()
        assert series["tier"] == "raw"
        [cpu] = series["series"]
        assert [p[1] for p in cpu["points"]] == [s.cpu.percent for s in batch.samples]  # type: ignore[union-attr]
        week = requests.get(
            f"{base}/api/v1/series",
            params={"host": name, "metric": "cpu.percent", "from": "-7d"},
            timeout=30,
        ).json()
        assert week["tier"] == "5m"  # what is not rolled up yet comes from the tiers below
        assert sum(point[4] for point in week["series"][0]["points"]) == len(batch.samples)
        latest = requests.get(f"{base}/api/v1/hosts/{name}/latest", timeout=30).json()
        assert latest["sample"]["ts_ms"] == batch.samples[-1].ts_ms
        assert len(latest["sample"]["processes"]) == len(batch.samples[-1].processes)
        missing = requests.get(
            f"{base}/api/v1/series", params={"host": name, "metric": "x"}, timeout=30
        )
        assert missing.status_code == 404


def test_the_aggregate_function_reports_poison_as_a_partial_batch_failure(
    local_cloud: CloudUnderTest,
) -> None:
    endpoints = local_cloud.endpoints
    good = SyntheticHost(f"partial-{time.time_ns()}").batch(recent(1))
    event, (good_id, poison_id) = sqs_event(
        Envelope(inline=good.model_dump_json().encode()).encode(), "not an envelope"
    )
    lam = aws_client("lambda", endpoints["region"], endpoints["aws_endpoint_url"])

    result = lam.invoke(FunctionName="hostpulse-aggregate", Payload=json.dumps(event))

    assert "FunctionError" not in result
    answer = json.loads(result["Payload"].read())
    assert answer == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert good_id != poison_id
    assert query(local_cloud, "SELECT 1 FROM batches WHERE agent_id = %s", good.agent_id)


def test_the_queues_send_repeated_failures_to_their_dead_letter_queues(
    local_cloud: CloudUnderTest,
) -> None:
    endpoints = local_cloud.endpoints
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    described = load_stack(PROJECT_ROOT / "stack" / "stack.yaml").queues
    for queue in ("aggregate", "alerts"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=endpoints["queues"][queue],
            AttributeNames=["RedrivePolicy", "VisibilityTimeout"],
        )["Attributes"]
        policy = json.loads(attributes["RedrivePolicy"])
        spec = described[queue]
        assert spec.dead_letter is not None
        assert policy["maxReceiveCount"] == spec.dead_letter.max_receive_count
        # docs/reliability.md promises about 10 minutes of database outage before anything
        # is dead-lettered: receives times the visibility timeout.
        assert policy["maxReceiveCount"] * int(attributes["VisibilityTimeout"]) >= 600
        assert policy["deadLetterTargetArn"].endswith(f"hostpulse-{queue}-dlq")


def test_the_retention_function_drops_expired_partitions(local_cloud: CloudUnderTest) -> None:
    endpoints = local_cloud.endpoints
    old_day = datetime.now(UTC) - timedelta(days=3)
    old_ms = int(old_day.timestamp() * 1000)
    store = PgMetricStore(PgConnector(endpoints["database_url"]))
    assert store.write_batch(SyntheticHost(f"old-{time.time_ns()}").batch([old_ms]))
    suffix = f"_p{old_day:%Y%m%d}"
    assert f"samples_raw{suffix}" in store.partitions()["samples_raw"]
    lam = aws_client("lambda", endpoints["region"], endpoints["aws_endpoint_url"])

    result = json.loads(lam.invoke(FunctionName="hostpulse-retention")["Payload"].read())

    assert {f"samples_raw{suffix}", f"processes_raw{suffix}", f"batches{suffix}"} <= set(
        result["dropped"]
    )
    partitions = store.partitions()
    assert f"samples_raw{suffix}" not in partitions.get("samples_raw", [])
    assert f"samples_1m{suffix}" in partitions["samples_1m"]  # 7 days for the 1m tier
    assert f"samples_1h{suffix}" in partitions["samples_1h"]


def test_concurrent_batches_of_one_host_leave_correct_buckets(local_cloud: CloudUnderTest) -> None:
    """Writers of the same minute at once must not lose each other's rows."""
    endpoints = local_cloud.endpoints
    host = SyntheticHost(f"race-{time.time_ns()}")
    minute = (int(time.time()) // 60 - 1) * 60 * 1000
    batches = [host.batch([minute + 1000 * i]) for i in range(12)]
    errors: list[BaseException] = []
    # Each writer has its own connection, as separate function instances have, and has
    # already created today's partitions: only the per-host lock may keep them apart.
    stores = [PgMetricStore(PgConnector(endpoints["database_url"])) for _ in batches]
    for store in stores:
        store.write_batch(SyntheticHost(f"warm-{time.time_ns()}").batch([minute]))

    def write(store: PgMetricStore, batch: Batch) -> None:
        try:
            store.write_batch(batch)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=write, args=pair) for pair in zip(stores, batches, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    roll_up_until(endpoints["database_url"])
    [(count, total)] = query(
        local_cloud,
        "SELECT m.count, m.sum::float8 FROM samples_1m m JOIN series s ON s.id = m.series_id "
        "WHERE s.host = %s AND s.metric = 'cpu.percent'",
        host.hostname,
    )
    expected = sum(b.samples[0].cpu.percent for b in batches if b.samples[0].cpu)
    assert count == 12
    assert total == pytest.approx(expected)


def test_untrusted_process_names_are_stored_as_they_were_sent(local_cloud: CloudUnderTest) -> None:
    hostile = [
        "tab\tnew\nline\rback\\slash",
        "nul\x00byte",
        "'); DROP TABLE hosts; --",
        "<img src=x onerror=alert(1)>",
        "\\N",
        "ünïcødé ✓",
    ]
    host = SyntheticHost(f"hostile-{time.time_ns()}", processes=len(hostile))
    sample = host.sample(recent(1)[0])
    processes = [
        p.model_copy(update={"name": n, "cmdline": n})
        for p, n in zip(sample.processes, hostile, strict=True)
    ]
    batch = Batch(
        agent_id=host.agent_id,
        seq=0,
        host=host.facts,
        samples=[sample.model_copy(update={"processes": processes})],
    )

    assert PgMetricStore(PgConnector(local_cloud.endpoints["database_url"])).write_batch(batch)

    stored = query(
        local_cloud,
        "SELECT name, cmdline FROM process_rows WHERE host = %s ORDER BY pid",
        host.hostname,
    )
    expected = [n.replace("\x00", "\ufffd") for n in hostile]  # PostgreSQL text holds no NUL
    assert stored == [(n, n) for n in expected]
    assert query(local_cloud, "SELECT count(*) FROM hosts")[0][0] >= 1


def test_late_samples_correct_their_buckets(local_cloud: CloudUnderTest) -> None:
    store = PgMetricStore(PgConnector(local_cloud.endpoints["database_url"]))
    host = SyntheticHost(f"late-{time.time_ns()}")
    minute = (int(time.time()) // 3600 - 2) * 3600 * 1000 + 10 * 60_000  # hh:10, two hours ago
    on_time = host.batch([minute + 30_000])
    late = host.batch([minute + 5_000, minute - 5 * 60_000])  # same minute, and an earlier one

    store.write_batch(on_time)
    before = query(
        local_cloud,
        "SELECT m.count FROM samples_1m m JOIN series s ON s.id = m.series_id "
        "WHERE s.host = %s AND s.metric = 'cpu.percent'",
        host.hostname,
    )
    store.write_batch(late)

    values = [s.cpu.percent for b in (on_time, late) for s in b.samples if s.cpu]
    minute_rows = query(
        local_cloud,
        "SELECT (extract(epoch FROM m.bucket) * 1000)::bigint, m.count, m.min, m.max, m.last "
        "FROM samples_1m m JOIN series s ON s.id = m.series_id "
        "WHERE s.host = %s AND s.metric = 'cpu.percent' ORDER BY 1",
        host.hostname,
    )
    roll_up_until(local_cloud.endpoints["database_url"])
    [(hour_count, hour_min, hour_max, hour_last)] = query(
        local_cloud,
        "SELECT h.count, h.min, h.max, h.last FROM samples_1h h JOIN series s "
        "ON s.id = h.series_id WHERE s.host = %s AND s.metric = 'cpu.percent'",
        host.hostname,
    )
    assert before == [(1,)]
    assert minute_rows == [
        (minute - 5 * 60_000, 1, values[2], values[2], values[2]),
        (minute, 2, min(values[:2]), max(values[:2]), values[0]),  # last by time, not arrival
    ]
    assert (hour_count, hour_min, hour_max, hour_last) == (3, min(values), max(values), values[0])


def test_hosts_report_completeness_from_sequence_gaps(
    local_cloud: CloudUnderTest, new_agent: NewAgent
) -> None:
    name, token = new_agent("gaps")
    host = SyntheticHost(name)
    for seq in (0, 1, 3):  # batch 2 never arrives
        host.next_seq = seq
        batch = host.batch(recent(1))
        assert post_batch(local_cloud, batch, token).status_code == 202
    assert post_batch(local_cloud, batch, token).status_code == 202  # a duplicate counts once
    # The host's agent reinstalled under a new name: its numbers start from 0 again.
    reinstalled = f"{name}-again"
    connector = PgConnector(local_cloud.endpoints["database_url"])
    again_token = register_agent(PgAgentRepository(connector), reinstalled, [name])
    connector.close()
    again = SyntheticHost(name, agent_id=reinstalled)
    for _ in range(2):
        assert post_batch(local_cloud, again.batch(recent(1)), again_token).status_code == 202
    eventually(
        lambda: len(query(local_cloud, "SELECT 1 FROM batches WHERE host = %s", name)) == 5,
        30,
    )

    hosts = requests.get(f"{local_cloud.endpoints['api_url']}/api/v1/hosts", timeout=30).json()

    mine = next(h for h in hosts["hosts"] if h["host"] == name)
    # 3 of 0..3 from the first agent, 2 of 0..1 from the second
    assert mine["completeness"] == {"batches": 5, "missing_batches": 1, "percent": 83.33}
    alone = requests.get(f"{local_cloud.endpoints['api_url']}/api/v1/hosts/{name}", timeout=30)
    assert alone.json() == mine


def test_a_host_at_a_glance_is_its_newest_sample_whatever_arrives_late(
    local_cloud: CloudUnderTest,
) -> None:
    client = redis.Redis.from_url(local_cloud.endpoints["redis_url"])
    store = RedisHotStore(client, window_ms=300_000, retain_ms=600_000)
    host = SyntheticHost(f"glance-{time.time_ns()}")
    now = int(time.time() * 1000)
    newer, older = host.batch([now - 5_000, now]), host.batch([now - 20_000, now - 15_000])

    store.write(newer, now)
    store.write(older, now)  # a retry or a spooled batch arriving after a newer one

    figures = RedisHotReader(client).glances()
    assert figures[host.hostname] == hot.glance(newer.samples[-1])
    sample = newer.samples[-1]
    assert sample.cpu is not None and sample.memory is not None
    assert figures[host.hostname] == {
        "ts_ms": now,
        "cpu_percent": sample.cpu.percent,
        "mem_percent": sample.memory.percent,
        "disk_percent": sample.disks[0].percent,
        "load1": sample.load.load1 if sample.load else None,
    }
