"""(b) Ingest batches per second in-process against the bare Redis pipeline and SQS sends.

Same process, same servers (the local cloud's Redis and LocalStack's SQS), same batches. The
baseline performs only the writes ingestion cannot do without: one Redis pipeline with the hot
tier's commands and the two SQS sends. The ingest path, built by hostpulse.wiring as the
function builds it, adds decompression, validation, the token check, the rate limiter, the
envelope and the archive write. Both run in six alternating rounds of 50 batches; the ratio
is the median of the rounds' ratios.
"""

from __future__ import annotations

import gzip
import statistics
import time

import redis

from bench.common import (
    NoCounters,
    local_cloud,
    rounds,
    sized,
    unlimited_ingest_settings,
    write_result,
)
from hostpulse.adapters.aws.clients import aws_client
from hostpulse.adapters.redis import keys as hot
from hostpulse.core.envelope import Envelope
from hostpulse.services.agents.tokens import register_agent
from hostpulse.services.ingest.service import IngestRequest
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import by_url, components

BATCHES = sized(300, 6)
ROUNDS = sized(6, 2)


def main() -> None:
    with local_cloud("ingest") as cloud:
        e = cloud.endpoints
        token = register_agent(by_url.agent_repository(e["database_url"]), "bench-agent")
        client = redis.Redis.from_url(e["redis_url"])
        sqs = aws_client("sqs", e["region"], e["aws_endpoint_url"])
        settings = unlimited_ingest_settings(cloud)
        service = components.ingest_service(NoCounters(), settings)
        queue_urls = [settings.aggregate_queue_url, settings.alerts_queue_url]
        host = SyntheticHost("bench-agent", cores=8)
        now = int(time.time() * 1000)
        batches = [host.batch([now - 10_000 + i, now - 5_000 + i]) for i in range(BATCHES)]
        bodies = [gzip.compress(b.model_dump_json().encode()) for b in batches]
        headers = {"authorization": f"Bearer {token}", "content-encoding": "gzip"}

        service.ingest(IngestRequest(bodies[0], headers, now))  # warm connections and caches
        envelopes = [Envelope(inline=b.model_dump_json().encode()).encode() for b in batches]
        compact = [[hot.compact(s) for s in b.samples] for b in batches]
        latest = [b.samples[-1].model_dump_json() for b in batches]
        facts = batches[0].host.model_dump_json()

        def ingest_round(part: range) -> float:
            started = time.perf_counter()
            for i in part:
                request = IngestRequest(bodies[i], headers, int(time.time() * 1000))
                response = service.ingest(request)
                assert response.status == 202, response.body
            return time.perf_counter() - started

        def bare_round(part: range) -> float:
            started = time.perf_counter()
            for i in part:
                batch, members = batches[i], compact[i]
                pipe = client.pipeline(transaction=False)
                name = batch.host.hostname
                pipe.zadd(
                    hot.window_key(name),
                    dict(zip(members, (s.ts_ms for s in batch.samples), strict=True)),
                )
                pipe.zremrangebyscore(hot.window_key(name), "-inf", now - 300_000)
                pipe.pexpire(hot.window_key(name), 600_000)
                pipe.hset(
                    hot.latest_key(name),
                    mapping={"ts": batch.samples[-1].ts_ms, "sample": latest[i]},
                )
                pipe.zadd(hot.HOSTS, {name: batch.samples[-1].ts_ms})
                pipe.hset(hot.FACTS, name, facts)
                pipe.publish(hot.live_channel(name), members[-1])
                pipe.execute()
                for url in queue_urls:
                    sqs.send_message(QueueUrl=url, MessageBody=envelopes[i])
            return time.perf_counter() - started

        # Alternating rounds: a slower minute of this shared machine hits both sides alike.
        ingest_times, bare_times = [], []
        for part in rounds(BATCHES, ROUNDS):
            ingest_times.append(ingest_round(part))
            bare_times.append(bare_round(part))
        ingest_s, bare_s = sum(ingest_times), sum(bare_times)
        ratios = sorted(i / b for i, b in zip(ingest_times, bare_times, strict=True))

    write_result(
        "ingest_vs_bare",
        {
            "batches": BATCHES,
            "ingest_batches_per_s": round(BATCHES / ingest_s, 1),
            "bare_batches_per_s": round(BATCHES / bare_s, 1),
            "ingest_cost_vs_bare": round(statistics.median(ratios), 2),
            "cost_per_round": [round(r, 2) for r in ratios],
            "aim": "< 2.0",
        },
    )


if __name__ == "__main__":
    main()
