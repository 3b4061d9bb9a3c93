"""(c) Freshness: from POST to readable in the hot tier and in PostgreSQL.

Through the whole local cloud: API Gateway, the ingest function, Redis; SQS, the aggregate
function (batching window 1 s), PostgreSQL. One host posts a one-sample batch every second;
each is timed until its sample is the hot tier's latest, and until its raw row is stored, where
the series query reads the minutes not rolled up yet.
"""

from __future__ import annotations

import gzip
import time

import psycopg2
import redis
import requests

from bench.common import local_cloud, sized, summary, write_result
from hostpulse.adapters.redis import keys as hot
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import by_url

SAMPLES = sized(40, 2)
POLL_S = 0.005
STORED = """
SELECT 1 FROM raw_values r JOIN series s ON s.id = r.series_id
WHERE s.host = %s AND s.metric = 'cpu.percent'
  AND r.ts = timestamptz 'epoch' + %s * interval '1 millisecond'
"""


def main() -> None:
    with local_cloud("freshness") as cloud:
        e = cloud.endpoints
        token = register_agent(by_url.agent_repository(e["database_url"]), "fresh")
        host = SyntheticHost("fresh")
        client = redis.Redis.from_url(e["redis_url"])
        conn = psycopg2.connect(e["database_url"])
        conn.autocommit = True
        session = requests.Session()
        headers = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}

        def post(ts_ms: int) -> None:
            body = gzip.compress(host.batch([ts_ms]).model_dump_json().encode())
            response = session.post(e["ingest_url"], data=body, headers=headers, timeout=30)
            assert response.status_code == 202, response.text

        for _ in range(3):  # warm environments: cold starts are not freshness
            post(int(time.time() * 1000))
            time.sleep(1)
        hot_ms: list[float] = []
        stored_ms: list[float] = []
        for _ in range(SAMPLES):
            ts_ms = int(time.time() * 1000)
            started = time.perf_counter()
            post(ts_ms)
            while client.hget(hot.latest_key("fresh"), "ts") != str(ts_ms).encode():
                time.sleep(POLL_S)
            hot_ms.append((time.perf_counter() - started) * 1000)
            with conn.cursor() as cur:
                while True:
                    cur.execute(STORED, ("fresh", ts_ms))
                    if cur.fetchone():
                        break
                    time.sleep(POLL_S)
            stored_ms.append((time.perf_counter() - started) * 1000)
            time.sleep(max(0.0, 1 - (time.perf_counter() - started)))
        conn.close()

    write_result(
        "freshness",
        {
            "hot_tier_ms": summary(hot_ms),
            "stored_ms": summary(stored_ms),
            "note": "stored includes the aggregate trigger's 1 s batching window",
        },
    )


if __name__ == "__main__":
    main()
