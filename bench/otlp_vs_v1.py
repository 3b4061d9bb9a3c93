"""OTLP ingest cost against wire contract v1, for the same samples.

The same synthetic host's batches (8 cores, 10 processes, two samples each) go in as an agent
sends them (v1 JSON, gzip) and as the Collector would export the same figures over OTLP/HTTP
(protobuf and JSON, gzip): utilization gauges, usage by state, cumulative counters for every
rate, one resource per process. Each path runs the ingest service built by hostpulse.wiring,
as the function runs it, against the local cloud's Redis and SQS, in alternating rounds; a
ratio is the median of the rounds' ratios. Body sizes are per sample, gzipped.
"""

from __future__ import annotations

import gzip
import statistics
import time
from collections.abc import Callable

from bench.common import (
    NoCounters,
    local_cloud,
    rounds,
    sized,
    unlimited_ingest_settings,
    write_result,
)
from hostpulse.core.contract import Batch
from hostpulse.services.agents.tokens import register_agent
from hostpulse.services.ingest.otlp.route import ingest_otlp
from hostpulse.services.ingest.service import IngestRequest, IngestResponse
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import by_url, components
from tests.otlp_hostmetrics import SampleEncoder, as_json

BATCHES = sized(240, 6)
ROUNDS = sized(6, 2)
SAMPLES_PER_BATCH = 2


def main() -> None:
    with local_cloud("otlp") as cloud:
        e = cloud.endpoints
        token = register_agent(
            by_url.agent_repository(e["database_url"]), "bench-otlp", ["bench-otlp*"]
        )
        settings = unlimited_ingest_settings(cloud)
        service = components.ingest_service(NoCounters(), settings)
        now_ms = int(time.time() * 1000)
        start_ms = now_ms - BATCHES * 10_000

        def batches(hostname: str) -> list[Batch]:
            host = SyntheticHost(hostname, cores=8, agent_id="bench-otlp")
            return [
                host.batch([start_ms + 10_000 * i, start_ms + 10_000 * i + 5_000])
                for i in range(BATCHES)
            ]

        # Each path writes its own host, so that none meets another's samples.
        v1_bodies = [gzip.compress(b.model_dump_json().encode()) for b in batches("bench-otlp")]
        encoder = SampleEncoder(start_ms * 10**6 - 3600 * 10**9)
        protobuf_bodies = [
            gzip.compress(encoder.request(b).SerializeToString()) for b in batches("bench-otlp-pb")
        ]
        encoder = SampleEncoder(start_ms * 10**6 - 3600 * 10**9)
        json_bodies = [gzip.compress(as_json(encoder.request(b))) for b in batches("bench-otlp-js")]
        auth = {"authorization": f"Bearer {token}", "content-encoding": "gzip"}
        protobuf = {**auth, "content-type": "application/x-protobuf"}
        as_json_headers = {**auth, "content-type": "application/json"}

        def timed(
            send: Callable[[IngestRequest], IngestResponse],
            bodies: list[bytes],
            headers: dict[str, str],
            ok: int,
        ) -> Callable[[range], float]:
            def run(part: range) -> float:
                started = time.perf_counter()
                for i in part:
                    response = send(IngestRequest(bodies[i], headers, int(time.time() * 1000)))
                    assert response.status == ok, response.body
                    assert response.samples == SAMPLES_PER_BATCH
                return time.perf_counter() - started

            return run

        v1 = timed(service.ingest, v1_bodies, auth, 202)
        otlp_protobuf = timed(lambda r: ingest_otlp(service, r), protobuf_bodies, protobuf, 200)
        otlp_json = timed(lambda r: ingest_otlp(service, r), json_bodies, as_json_headers, 200)
        times: dict[str, list[float]] = {"v1": [], "protobuf": [], "json": []}
        for part in rounds(BATCHES, ROUNDS):
            times["v1"].append(v1(part))
            times["protobuf"].append(otlp_protobuf(part))
            times["json"].append(otlp_json(part))

    def ratio(path: str) -> float:
        pairs = zip(times[path], times["v1"], strict=True)
        return round(statistics.median(sorted(o / v for o, v in pairs)), 2)

    def per_sample(bodies: list[bytes]) -> int:
        return round(sum(len(b) for b in bodies) / (len(bodies) * SAMPLES_PER_BATCH))

    samples = BATCHES * SAMPLES_PER_BATCH
    write_result(
        "otlp_vs_v1",
        {
            "batches": BATCHES,
            "samples_per_batch": SAMPLES_PER_BATCH,
            "v1_samples_per_s": round(samples / sum(times["v1"]), 1),
            "otlp_protobuf_samples_per_s": round(samples / sum(times["protobuf"]), 1),
            "otlp_json_samples_per_s": round(samples / sum(times["json"]), 1),
            "otlp_protobuf_cost_vs_v1": ratio("protobuf"),
            "otlp_json_cost_vs_v1": ratio("json"),
            "v1_gzip_bytes_per_sample": per_sample(v1_bodies),
            "otlp_protobuf_gzip_bytes_per_sample": per_sample(protobuf_bodies),
            "otlp_json_gzip_bytes_per_sample": per_sample(json_bodies),
        },
    )


if __name__ == "__main__":
    main()
