"""PromQL as Grafana asks it, beside Prometheus 2.42 answering the same queries on the same
samples, in the same run.

(a) One host's panel, `hostpulse_cpu_percent{host=..., mode="total"}`, over 24 h, 7 d and 90 d
    at Grafana's default of about 1,000 points (the 1-minute and 30-minute tiers).
(b) `avg by (host) (hostpulse_cpu_percent{mode="total"})` over every host of a fleet, 1 h at a
    15 s step (the raw tier).

Both are asked through the HTTP API as Grafana asks them (a form POST to query_range): hostpulse
under uvicorn on the benchmark's local cloud, Prometheus on a free port. Each query is repeated,
the two alternating, and the p50/p95 and their ratio written down.

The samples: the fleet's hosts send a full sample every 5 s for the last hour; the panel's host
one a minute for 90 days. They are written through the metric store (the raw tier), the rolled
tiers rolled up from them as the aggregation function does; Prometheus gets the same samples of
the queried series through promtool.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import requests

from bench.common import SMOKE, local_cloud, sized, summary, write_result
from hostpulse.core.contract import Sample, metric_values
from hostpulse.core.prometheus_names import prometheus_series
from hostpulse.core.settings import CoreSettings
from hostpulse.core.tiers import default_tiers
from hostpulse.services.aggregate.rollup import roll_up_tiers
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import components
from tests.prometheus_oracle import SeriesKey, prometheus_serving

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
FLEET_STEP_MS = 5_000
PANEL_STEP_MS = 60_000
REPEATS = sized(30, 2)
CPU_TOTAL = "cpu.percent"


def lean(sample: Sample) -> Sample:
    return sample.model_copy(update={"processes": []})


def write_samples(store: Any, host: SyntheticHost, stamps: list[int]) -> int:
    written = 0
    for first in range(0, len(stamps), 1000):
        batch = host.batch(stamps[first : first + 1000])
        batch = batch.model_copy(update={"samples": [lean(s) for s in batch.samples]})
        store.write_batches([batch])
        written += len(batch.samples)
    return written


def cpu_series(host: SyntheticHost, stamps: list[int]) -> tuple[SeriesKey, list[tuple[int, float]]]:
    """What Prometheus gets: the queried series, the same values hostpulse stored."""
    host = SyntheticHost(host.hostname, cores=host.cores, processes=0)  # the same walk again
    points = []
    for ts in stamps:
        value = dict(metric_values(host.sample(ts)))[CPU_TOTAL]
        points.append((ts, value))
    named = prometheus_series(CPU_TOTAL)
    assert named is not None
    labels = {**host.facts.labels, **named.labels, "host": host.hostname, "__name__": named.name}
    return tuple(sorted(labels.items())), points


def fill(
    database_url: str, hosts: int, now_ms: int, panel_days: int
) -> tuple[dict[SeriesKey, list[tuple[int, float]]], str]:
    """Every sample into hostpulse, the queried series' for Prometheus; the panel host's name."""
    # The rolled tiers start where the history does, so that the writes below are plain raw
    # rows and the rollups make every bucket, as on a deployment that has run that long.
    history_start = now_ms - panel_days * DAY_MS
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        aligned = (history_start - DAY_MS) // (6 * HOUR_MS) * (6 * HOUR_MS)  # every tier's edge
        cur.execute(
            "UPDATE tier_watermarks SET rolled_through = to_timestamp(%s / 1000.0)", (aligned,)
        )
    store = components.metric_store_for(CoreSettings(database_url=database_url, redis_url="unused"))
    series: dict[SeriesKey, list[tuple[int, float]]] = {}
    fleet_stamps = list(range(now_ms - HOUR_MS, now_ms, FLEET_STEP_MS))
    for i in range(hosts):
        host = SyntheticHost(f"fleet-{i:04d}", cores=2, processes=0)
        write_samples(store, host, fleet_stamps)
        key, points = cpu_series(host, fleet_stamps)
        series[key] = points
    # The panel's history a day at a time, each rolled up at once, as the aggregation function
    # does while it happens: the local cloud's retention drops raw days older than a day.
    panel = SyntheticHost("panel-host", cores=2, processes=0)
    panel_stamps = list(range(history_start, now_ms, PANEL_STEP_MS))
    for day in range(history_start, now_ms, DAY_MS):
        write_samples(store, panel, [t for t in panel_stamps if day <= t < day + DAY_MS])
        rolled_at = datetime.fromtimestamp(min(day + DAY_MS, now_ms) / 1000, UTC)
        while not roll_up_tiers(store, default_tiers(), rolled_at):
            pass
    key, points = cpu_series(panel, panel_stamps)
    series[key] = points
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    while not roll_up_tiers(store, default_tiers(), now):
        pass
    held = held_days(database_url, panel.hostname)
    assert held["30m"] >= panel_days - 1 and held["1m"] >= min(panel_days, 7) - 1, held
    return series, panel.hostname


def held_days(database_url: str, host: str) -> dict[str, float]:
    """How many days of the panel host's CPU each tier the panels read holds."""
    held = {}
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        for tier, table in (("1m", "samples_1m"), ("30m", "samples_30m")):
            cur.execute(
                f"SELECT extract(epoch FROM max(bucket) - min(bucket)) / 86400 FROM {table} t"  # noqa: S608
                " JOIN series s ON s.id = t.series_id WHERE s.host = %s AND s.metric = %s",
                (host, CPU_TOTAL),
            )
            row = cur.fetchone()
            held[tier] = float(row[0] or 0) if row else 0.0
    return held


def settle_compaction(tsdb: Path, limit_s: float = sized(600, 5)) -> float:
    """Prometheus merges the backfill's two-hour blocks into longer ones in the background, as
    a server that has run for 90 days has them: measured once the count of blocks holds still
    for a while (or ``limit_s`` has passed)."""
    started = time.monotonic()
    last, still_since = -1, time.monotonic()
    while time.monotonic() - started < limit_s:
        count = sum(1 for p in tsdb.iterdir() if (p / "meta.json").is_file())
        if count != last:
            last, still_since = count, time.monotonic()
        elif time.monotonic() - still_since > sized(90, 1):
            break
        time.sleep(5 if not SMOKE else 0.5)
    return round(time.monotonic() - started, 1)


def ask(url: str, query: str, start_ms: int, end_ms: int, step_ms: int) -> dict[str, Any]:
    form = {
        "query": query,
        "start": str(start_ms / 1000),
        "end": str(end_ms / 1000),
        "step": str(step_ms / 1000),
    }
    answer = requests.post(f"{url}/api/v1/query_range", data=form, timeout=120)
    assert answer.status_code == 200, answer.text[:500]
    body: dict[str, Any] = answer.json()
    return body


def measure(ours: str, theirs: str, query: str, span: tuple[int, int, int]) -> dict[str, Any]:
    times: dict[str, list[float]] = {"hostpulse": [], "prometheus": []}
    points = 0
    for url in (ours, theirs):  # a panel is asked again and again: its first asking is not timed
        ask(url, query, *span)
    for _ in range(REPEATS):
        for name, url in (("hostpulse", ours), ("prometheus", theirs)):
            started = time.perf_counter()
            body = ask(url, query, *span)
            times[name].append((time.perf_counter() - started) * 1000)
            if name == "hostpulse":
                points = sum(len(r["values"]) for r in body["data"]["result"])
    ours_ms, theirs_ms = summary(times["hostpulse"]), summary(times["prometheus"])
    return {
        "query": query,
        "points": points,
        "hostpulse_ms": ours_ms,
        "prometheus_ms": theirs_ms,
        "ratio_p95": round(ours_ms["p95"] / theirs_ms["p95"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=sized(1000, 3))
    parser.add_argument("--days", type=int, default=sized(90, 2))
    args = parser.parse_args()
    now_ms = int(time.time() * 1000) // 60_000 * 60_000
    with local_cloud("promql") as cloud:
        started = time.perf_counter()
        series, panel = fill(cloud.endpoints["database_url"], args.hosts, now_ms, args.days)
        filled_s = time.perf_counter() - started
        workdir = Path(cloud.state_dir) / "bench-prometheus"
        with prometheus_serving(series, workdir) as prometheus:
            settled_s = settle_compaction(workdir / "tsdb")
            ours = f"{cloud.endpoints['local_api_url']}/prometheus"
            selector = f'hostpulse_cpu_percent{{host="{panel}", mode="total"}}'
            results = {}
            for name, days in (("panel_24h", 1), ("panel_7d", 7), ("panel_90d", 90)):
                span_ms = min(days, args.days) * DAY_MS
                step = span_ms // 1000  # Grafana's default: about 1,000 points
                results[name] = measure(
                    ours, prometheus.url, selector, (now_ms - span_ms, now_ms, step)
                )
            fleet_query = 'avg by (host) (hostpulse_cpu_percent{mode="total"})'
            results["fleet_avg_1h"] = measure(
                ours, prometheus.url, fleet_query, (now_ms - HOUR_MS + 300_000, now_ms, 15_000)
            )
    write_result(
        f"promql_{args.hosts}",
        {
            "hosts": args.hosts,
            "panel_days": args.days,
            "repeats": REPEATS,
            "fill_s": round(filled_s, 1),
            "prometheus_compaction_s": settled_s,
            **results,
        },
    )


if __name__ == "__main__":
    main()
