"""(b) Ingest batches per second in-process against the bare Redis pipeline and SQS sends.

Same process, same servers (the local cloud's Redis and LocalStack's SQS), same batches. The
baseline performs only the writes ingestion cannot do without: one Redis pipeline with the hot
tier's commands and the two SQS sends. The ingest path adds decompression, validation, the
token check, the rate limiter, the envelope and the archive write. The ratio is the result.
"""

from __future__ import annotations

import gzip
import time

import redis

from bench.common import local_cloud, write_result
from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.aws.queue import S3Archive, SqsBatchQueue
from hostpulse.adapters.postgres.agents import CachedAgentDirectory, PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.redis import keys as hot
from hostpulse.adapters.redis.hot import RedisHotStore, RedisRateLimiter
from hostpulse.agents import register_agent
from hostpulse.envelope import Envelope
from hostpulse.ingest.service import IngestRequest, IngestService
from hostpulse.synthetic_host import SyntheticHost

BATCHES = 300


class NoCounters:
    def count(self, name: str, value: float = 1) -> None:
        """Counting is the handler's business, not this benchmark's."""


def main() -> None:
    with local_cloud("ingest") as cloud:
        e = cloud.endpoints
        repository = PgAgentRepository(PgConnector(e["database_url"]))
        token = register_agent(repository, "bench-agent")
        client = redis.Redis.from_url(e["redis_url"])
        sqs = aws_client("sqs", e["region"], e["aws_endpoint_url"])
        s3 = aws_client("s3", e["region"], e["aws_endpoint_url"])
        queue_urls = [e["queues"]["aggregate"], e["queues"]["alerts"]]
        service = IngestService(
            agents=CachedAgentDirectory(repository, ttl_s=60),
            limiter=RedisRateLimiter(
                client, 1e6, 1_000_000, hot.draining_key(e["queues"]["aggregate"])
            ),
            queue=SqsBatchQueue(sqs, queue_urls),
            hot=RedisHotStore(client, 300_000, 600_000),
            archive=S3Archive(s3, e["buckets"]["archive"]),
            counters=NoCounters(),
        )
        host = SyntheticHost("bench-agent", cores=8)
        now = int(time.time() * 1000)
        batches = [host.batch([now - 10_000 + i, now - 5_000 + i]) for i in range(BATCHES)]
        bodies = [gzip.compress(b.model_dump_json().encode()) for b in batches]
        headers = {"authorization": f"Bearer {token}", "content-encoding": "gzip"}

        service.ingest(IngestRequest(bodies[0], headers, now))  # warm connections and caches
        started = time.perf_counter()
        for body in bodies:
            response = service.ingest(IngestRequest(body, headers, int(time.time() * 1000)))
            assert response.status == 202, response.body
        ingest_s = time.perf_counter() - started

        envelopes = [Envelope(inline=b.model_dump_json().encode()).encode() for b in batches]
        compact = [[hot.compact(s) for s in b.samples] for b in batches]
        latest = [b.samples[-1].model_dump_json() for b in batches]
        facts = batches[0].host.model_dump_json()
        started = time.perf_counter()
        for batch, envelope, members, snapshot in zip(
            batches, envelopes, compact, latest, strict=True
        ):
            pipe = client.pipeline(transaction=False)
            name = batch.host.hostname
            pipe.zadd(
                hot.window_key(name),
                dict(zip(members, (s.ts_ms for s in batch.samples), strict=True)),
            )
            pipe.zremrangebyscore(hot.window_key(name), "-inf", now - 300_000)
            pipe.pexpire(hot.window_key(name), 600_000)
            pipe.hset(
                hot.latest_key(name), mapping={"ts": batch.samples[-1].ts_ms, "sample": snapshot}
            )
            pipe.zadd(hot.HOSTS, {name: batch.samples[-1].ts_ms})
            pipe.hset(hot.FACTS, name, facts)
            pipe.publish(hot.live_channel(name), members[-1])
            pipe.execute()
            for url in queue_urls:
                sqs.send_message(QueueUrl=url, MessageBody=envelope)
        bare_s = time.perf_counter() - started

    write_result(
        "ingest_vs_bare",
        {
            "batches": BATCHES,
            "ingest_batches_per_s": round(BATCHES / ingest_s, 1),
            "bare_batches_per_s": round(BATCHES / bare_s, 1),
            "ingest_cost_vs_bare": round(ingest_s / bare_s, 2),
            "aim": "< 2.0",
        },
    )


if __name__ == "__main__":
    main()
