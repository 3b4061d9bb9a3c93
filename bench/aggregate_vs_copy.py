"""(a) Rows per second through the aggregate path against a plain COPY of the same rows.

Both run in one process against the same PostgreSQL, on the same generated batches: the
aggregate path as the function runs it (decode, dedup, host upsert, series, raw insert, 1m and
1h recompute, processes; 10 messages per transaction, as SQS delivers them) and a bare ``COPY``
of the metric rows into a table shaped like the raw tier. The ratio is the result.
"""

from __future__ import annotations

import io
import time

import psycopg2

from bench.common import local_cloud, settings_for, write_result
from hostpulse import wiring
from hostpulse.aggregate import aggregate_records
from hostpulse.contract import metric_values
from hostpulse.envelope import Envelope
from hostpulse.settings import CoreSettings
from hostpulse.synthetic_host import SyntheticHost

HOSTS = 20
BATCHES_PER_HOST = 30
SAMPLES_PER_BATCH = 2  # an agent sampling every 5 s and sending every 10 s
CORES = 8
SQS_BATCH = 10  # the trigger's batch size in stack/stack.yaml


def main() -> None:
    start_ms = int(time.time() * 1000) - 3_600_000
    batches = []
    for h in range(HOSTS):
        host = SyntheticHost(f"bench-{h:02d}", cores=CORES, seed=h)
        for b in range(BATCHES_PER_HOST):
            first = start_ms + b * SAMPLES_PER_BATCH * 5000
            batches.append(host.batch([first + 5000 * i for i in range(SAMPLES_PER_BATCH)]))
    rows = [
        (h, metric, s.ts_ms, value)
        for b in batches
        for h in [b.host.hostname]
        for s in b.samples
        for metric, value in metric_values(s)
    ]
    with local_cloud("aggregate") as cloud:
        url = cloud.endpoints["database_url"]
        settings = settings_for(cloud, CoreSettings)
        store = wiring.metric_store_for(settings)
        store.write_batch(SyntheticHost("warm-up").batch([start_ms]))  # partitions, connection

        # As SQS delivers them: the fleet's batches interleaved in time, 10 messages at once.
        messages = [
            (str(i), Envelope(inline=b.model_dump_json().encode()).encode())
            for i, b in enumerate(sorted(batches, key=lambda b: (b.samples[0].ts_ms, b.agent_id)))
        ]
        archive = wiring.archive(settings, cloud.endpoints["buckets"]["archive"])
        started = time.perf_counter()
        for i in range(0, len(messages), SQS_BATCH):
            outcome = aggregate_records(messages[i : i + SQS_BATCH], store, archive)
            assert not outcome.failed and not outcome.archive_failed
        path_s = time.perf_counter() - started

        series_ids = {(h, m): i for i, (h, m) in enumerate(sorted({(h, m) for h, m, _, _ in rows}))}
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE copy_baseline (series_id integer, ts timestamptz, "
                "value double precision, PRIMARY KEY (series_id, ts))"
            )
        # Prepared before the clock starts: COPY's text format with timestamp literals.
        text = "".join(
            f"{series_ids[(host, metric)]}\t{_timestamp(ts_ms)}\t{value!r}\n"
            for host, metric, ts_ms, value in rows
        )
        started = time.perf_counter()
        with conn, conn.cursor() as cur:
            cur.copy_expert("COPY copy_baseline FROM STDIN", io.StringIO(text))
        copy_s = time.perf_counter() - started
        conn.close()

    path_rate = len(rows) / path_s
    copy_rate = len(rows) / copy_s
    write_result(
        "aggregate_vs_copy",
        {
            "rows": len(rows),
            "batches": len(batches),
            "aggregate_rows_per_s": round(path_rate),
            "copy_rows_per_s": round(copy_rate),
            "ratio_to_copy": round(path_rate / copy_rate, 3),
            "aim": ">= 0.5",
        },
    )


def _timestamp(ts_ms: int) -> str:
    seconds, millis = divmod(ts_ms, 1000)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))}.{millis:03d}+00"


if __name__ == "__main__":
    main()
