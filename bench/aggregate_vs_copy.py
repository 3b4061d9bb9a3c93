"""(a) Rows per second through the aggregate path against a plain COPY of the same rows.

Both run in one process against the same PostgreSQL, on the same generated batches: the
aggregate path as the function runs it (decode, validate, dedup, host upsert, series, raw rows,
processes, the archive object; as many messages per transaction as the aggregate trigger takes
at once, as SQS delivers them to a function with a backlog) and a bare ``COPY`` of the rows it
stores, each into a plain keyed table a row each: the metric values (series, time, value), and
the processes (host, time, pid and the process' fields; the processes table kept them so until it
kept a row per sample). Twelve alternating rounds: 100 messages, then a COPY of
their rows. The metric values alone (``ratio_to_copy_of_values``) and the samples as the raw
tier keeps them, a row per sample (``ratio_to_copy_as_stored``), are timed beside it.
The samples are the present minutes, as a live fleet sends them (after every rolled tier's
watermark). Once all rounds are written, the rolled tiers are rolled up past them, timed, and
each round is charged its share of that time by rows: the ratio is the median of the rounds'
ratios, rollups included."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2

from bench.common import local_cloud, rounds, settings_for, sized, trigger, write_result
from hostpulse.adapters.postgres.copy_rows import (
    BINARY,
    TEXT,
    Frame,
    copy_lines,
    copy_text,
    copy_timestamp,
    raw_row,
    series_array,
)
from hostpulse.adapters.postgres.process_documents import PROCESS_FIELDS
from hostpulse.core.contract import Batch, Process, metric_values
from hostpulse.core.envelope import Envelope
from hostpulse.core.settings import CoreSettings
from hostpulse.core.tiers import default_tiers
from hostpulse.services.aggregate.rollup import SETTLE, roll_up_tiers
from hostpulse.services.aggregate.service import aggregate_records
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import components, lazy

TIERS = default_tiers()
HOSTS = sized(20, 2)
BATCHES_PER_HOST = sized(60, 6)
SAMPLES_PER_BATCH = 2  # an agent sampling every 5 s and sending every 10 s
CORES = 8
# The aggregate trigger's batch size: what a transaction holds when the queue has a backlog.
SQS_BATCH = trigger("aggregate").batch_size
# Of 100 messages, each followed by a COPY of the same rows: twelve, as one round's ratio
# varied from 0.28 to 0.70 within a run on this shared machine.
ROUNDS = sized(12, 2)


# The baseline's process rows: a row per process and sample, keyed, as the processes table
# kept them before it kept a row per sample (migration 0014).
BASELINE_PROCESSES = """CREATE TABLE copy_processes (
    host text NOT NULL, ts timestamptz NOT NULL, pid integer NOT NULL, name text NOT NULL,
    cmdline text NOT NULL, username text NOT NULL, cpu_percent double precision NOT NULL,
    rss_bytes bigint NOT NULL, threads integer NOT NULL,
    read_bytes_per_s double precision NOT NULL, write_bytes_per_s double precision NOT NULL,
    read_bytes_total bigint, write_bytes_total bigint, open_files integer, status text NOT NULL,
    PRIMARY KEY (host, ts, pid))"""


def process_row(host: str, stamp: str, process: Process) -> str:
    """A baseline process row in COPY's text format, its columns in ``PROCESS_FIELDS``' order."""
    columns = [
        "\\N" if value is None else copy_text(value) if isinstance(value, str) else repr(value)
        for value in (getattr(process, name) for name in PROCESS_FIELDS)
    ]
    return "\t".join([host, stamp, *columns]) + "\n"


def copy_inputs(
    delivered: list[Batch],
) -> tuple[list[list[tuple[str, str, int, float]]], list[str], list[str], list[bytes]]:
    """Per batch: its metric values, and the COPY text of its values and its process rows
    (timestamp literals), and its samples as the raw tier stores them (COPY's binary format,
    as the path writes them), made before any clock starts."""
    rows = [
        [
            (b.host.hostname, metric, s.ts_ms, value)
            for s in b.samples
            for metric, value in metric_values(s)
        ]
        for b in delivered
    ]
    series_ids = {
        key: i for i, key in enumerate(sorted({(h, m) for per in rows for h, m, _, _ in per}))
    }
    values_text = [
        "".join(
            f"{series_ids[(host, metric)]}\t{copy_timestamp(ts_ms)}\t{value!r}\n"
            for host, metric, ts_ms, value in per
        )
        for per in rows
    ]
    process_text = [
        "".join(
            process_row(copy_text(b.host.hostname), copy_timestamp(s.ts_ms), p)
            for s in b.samples
            for p in s.processes
        )
        for b in delivered
    ]
    stored_rows = [
        b"".join(
            raw_row(
                b.host.hostname,
                s.ts_ms,
                series_array(b.host.hostname, metrics, series_ids),
                values,
            )
            for s in b.samples
            for metrics, values in [tuple(zip(*metric_values(s), strict=True))]
        )
        for b in delivered
    ]
    return rows, values_text, process_text, stored_rows


def main() -> None:
    start_ms = int(time.time() * 1000)
    batches = []
    for h in range(HOSTS):
        host = SyntheticHost(f"bench-{h:02d}", cores=CORES, seed=h)
        for b in range(BATCHES_PER_HOST):
            first = start_ms + b * SAMPLES_PER_BATCH * 5000
            batches.append(host.batch([first + 5000 * i for i in range(SAMPLES_PER_BATCH)]))
    # As SQS delivers them: the fleet's batches interleaved in time, SQS_BATCH at once.
    delivered = sorted(batches, key=lambda b: (b.samples[0].ts_ms, b.agent_id))
    messages = [
        (str(i), Envelope(inline=b.model_dump_json().encode()).encode())
        for i, b in enumerate(delivered)
    ]
    rows, values_text, process_text, stored_rows = copy_inputs(delivered)
    with local_cloud("aggregate") as cloud:
        url = cloud.endpoints["database_url"]
        settings = settings_for(cloud, CoreSettings)
        store = components.metric_store_for(settings)
        store.write_batch(SyntheticHost("warm-up").batch([start_ms]))  # partitions, connection
        archive = components.archive(settings, cloud.endpoints["buckets"]["archive"])
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE copy_baseline (series_id integer, ts timestamptz, "
                "value double precision, PRIMARY KEY (series_id, ts))"
            )
            cur.execute(BASELINE_PROCESSES)
            cur.execute(
                "CREATE TABLE copy_as_stored (host text, ts timestamptz, series_ids integer[], "
                "vals double precision[], PRIMARY KEY (host, ts))"
            )

        def path_round(part: range) -> float:
            started = time.perf_counter()
            for i in part[::SQS_BATCH]:
                group = messages[i : min(i + SQS_BATCH, part.stop)]
                outcome = aggregate_records(group, store, archive)
                assert not outcome.failed and not outcome.archive_failed
            return time.perf_counter() - started

        def copy_round(part: range, table: str, lines: list[Any], frame: Frame = TEXT) -> float:
            binary = " WITH (FORMAT binary)" if frame is BINARY else ""
            started = time.perf_counter()
            with conn, conn.cursor() as cur:
                copy_lines(cur, f"COPY {table} FROM STDIN{binary}", [lines[i] for i in part], frame)
            return time.perf_counter() - started

        # As in the function, where what an execution environment keeps is settled once built
        # (hostpulse.wiring.lazy.Lazy): here that includes the batches prepared above, which the
        # function never holds, so that the path's collections walk no more than there.
        lazy.settle_heap()
        # Alternating rounds: a slower minute of this shared machine hits both sides alike.
        path_times, copy_times, value_times, stored_times, round_rows = [], [], [], [], []
        for part in rounds(len(messages), ROUNDS):
            path_times.append(path_round(part))
            value_times.append(copy_round(part, "copy_baseline", values_text))
            copy_times.append(value_times[-1] + copy_round(part, "copy_processes", process_text))
            stored_times.append(copy_round(part, "copy_as_stored", stored_rows, BINARY))
            round_rows.append(sum(len(rows[i]) for i in part))
        conn.close()
        # Every bucket the rounds touched closed, as the functions' rollups would find them.
        last_sample = datetime.fromtimestamp(delivered[-1].samples[-1].ts_ms / 1000, tz=UTC)
        started = time.perf_counter()
        while not roll_up_tiers(store, TIERS, last_sample + timedelta(hours=6) + SETTLE):
            pass
        rollup_s = time.perf_counter() - started

    total_rows = sum(len(per) for per in rows)
    process_rows = sum(len(s.processes) for b in delivered for s in b.samples)
    path_times = [
        p + rollup_s * n / total_rows for p, n in zip(path_times, round_rows, strict=True)
    ]
    ratios = sorted(c / p for p, c in zip(path_times, copy_times, strict=True))
    of_values = sorted(c / p for p, c in zip(path_times, value_times, strict=True))
    as_stored = sorted(c / p for p, c in zip(path_times, stored_times, strict=True))
    write_result(
        "aggregate_vs_copy",
        {
            "rows": total_rows,
            "batches": len(batches),
            "aggregate_rows_per_s": round(total_rows / sum(path_times)),
            "aggregate_rows_and_processes_per_s": round(
                (total_rows + process_rows) / sum(path_times)
            ),
            "copy_rows_and_processes_per_s": round((total_rows + process_rows) / sum(copy_times)),
            "process_rows": process_rows,
            "copy_s_per_round": [round(c, 4) for c in copy_times],
            "path_s_per_round": [round(p, 4) for p in path_times],
            "ratio_to_copy": round(statistics.median(ratios), 3),
            "ratio_per_round": [round(r, 3) for r in ratios],
            "copy_of_values_rows_per_s": round(total_rows / sum(value_times)),
            "ratio_to_copy_of_values": round(statistics.median(of_values), 3),
            "copy_as_stored_rows_per_s": round(total_rows / sum(stored_times)),
            "ratio_to_copy_as_stored": round(statistics.median(as_stored), 3),
            "rollup_s": round(rollup_s, 3),
            "rollup_share_of_path": round(rollup_s / sum(path_times), 3),
            "messages_per_transaction": SQS_BATCH,
            "aim": ">= 0.5",
        },
    )


if __name__ == "__main__":
    main()
