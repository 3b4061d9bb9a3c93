"""The dashboard at fleet scale: 50 hosts of 8 cores with 7 days of history.

(a) Query latency of a host view as the dashboard opens it (hosts list, latest snapshot and
    one series query with every chart's metrics) for the 24 h, 7 d and 90 d ranges, p50 and
    p95, against the API's own health round trip measured in the same run.
(b) Main-thread time per live update in Chromium (scripting and the charts' drawing, measured
    with the Performance API by the page itself) on a host page receiving a sample a second,
    and per fleet-table update while all 50 hosts send: wall time, and the main thread's CPU
    time for the same updates from Chrome's trace (wall time less the waits for a core).

History is written straight into the tiers with SQL (7 days of 1-minute rows for 50 hosts is
~18 M rows; sending it through ingest would take hours here): 7 days of the 1-minute,
5-minute and 30-minute tiers, 90 days of the 1-hour and 6-hour ones, each rolled tier's
watermark where its history ends. The last minutes go through the real ingest path, so the hot
tier, raw tier and series exist as in production, and the minutes after the watermarks are
read from the 1-minute tier as they would be.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import requests
from playwright.sync_api import sync_playwright

from bench.common import local_cloud, sized, summary, timed_ms, write_result
from hostpulse.adapters.postgres import metrics_sql as sql
from hostpulse.adapters.postgres.metrics import series_parameters, series_statement
from hostpulse.core.settings import CoreSettings
from hostpulse.core.tiers import RangeQuery, choose_tier, default_tiers
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import by_url, components
from tests.support import CloudUnderTest, post_batch

TIERS = default_tiers()
HOSTS = sized(50, 2)
CORES = 8
DAYS = sized(7, 1)
LONG_DAYS = sized(90, 2)
# The host page's three ranges; history kept per tier as the default retention keeps it.
RANGES = {"24h": 1, "7d": DAYS, "90d": LONG_DAYS}
RANGE_MS = {f"-{name}": days * 86_400_000 for name, days in RANGES.items()}
REPEATS = sized(40, 2)
MAX_POINTS = 400  # what the host page asks for (frontend/js/host.js)
LIVE_SECONDS = sized(45, 4)
CHROMIUM = Path("/usr/bin/chromium")
# The host page's chart metrics (frontend/js/host.js, CHARTS): one series request per view.
VIEW_METRICS = [
    "cpu.percent", "cpu.user", "cpu.system", "cpu.iowait", "cpu.steal", "cpu.core:*",
    "mem.percent", "swap.percent", "load.1", "load.5", "load.15",
    "diskio.read_bytes_per_s:*", "diskio.write_bytes_per_s:*",
    "net.rx_bytes_per_s:*", "net.tx_bytes_per_s:*",
]  # fmt: skip

# Buckets from the first whole one after start to the last one before end, as rollups align
# them; 12 samples a minute (5 s), so a bucket counts 12 per minute it spans.
FILL_TIER = f"""
INSERT INTO {{table}} (series_id, bucket, min, max, sum, count, last, last_ts)
SELECT s.id, b, v - 3, v + 3, v * %(per)s, %(per)s, v, b
FROM series s
CROSS JOIN generate_series(
    date_bin(%(step)s::interval, %(start)s::timestamptz, {sql.ORIGIN}) + %(step)s::interval,
    date_bin(%(step)s::interval, %(end)s::timestamptz, {sql.ORIGIN}) - %(step)s::interval,
    %(step)s::interval) b
CROSS JOIN LATERAL (
    SELECT 40 + 30 * sin(extract(epoch FROM b) / 3600 + s.id) AS v
) value
WHERE s.host = ANY(%(hosts)s)
ON CONFLICT DO NOTHING
"""  # noqa: S608 (the table is one of the tiers, never input)
SET_WATERMARK = f"""
UPDATE tier_watermarks SET rolled_through = date_bin(%(step)s::interval, %(end)s, {sql.ORIGIN})
WHERE tier = %(tier)s
"""  # noqa: S608 (constants only)


class Fleet:
    def __init__(self, cloud: CloudUnderTest) -> None:
        self.cloud = cloud
        repository = by_url.agent_repository(cloud.endpoints["database_url"])
        self.hosts = [SyntheticHost(f"dash-{i:02d}", cores=CORES, seed=i) for i in range(HOSTS)]
        self.tokens = {h.hostname: register_agent(repository, h.agent_id) for h in self.hosts}

    def send(self, host: SyntheticHost, stamps: list[int]) -> None:
        response = post_batch(self.cloud, host.batch(stamps), self.tokens[host.hostname])
        assert response.status_code == 202, response.text


def fill_history(database_url: str, hosts: list[str], now: datetime) -> float:
    started = time.perf_counter()
    store = components.metric_store_for(CoreSettings(database_url=database_url, redis_url="unused"))
    store.ensure_partitions({(now - timedelta(days=d)).date() for d in range(LONG_DAYS + 1)})
    recent = now - timedelta(minutes=10)  # the real path wrote the last minutes
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        for tier in TIERS[1:]:
            days = (
                DAYS if tier.retention <= timedelta(days=DAYS) or tier.name == "30m" else LONG_DAYS
            )
            params = {
                "start": now - timedelta(days=days),
                "end": recent,
                "step": f"{tier.resolution_s} seconds",
                "per": 12 * tier.resolution_s // 60,
                "hosts": hosts,
                "tier": tier.name,
            }
            cur.execute(FILL_TIER.format(table=tier.table), params)
            if tier.rolled:
                cur.execute(SET_WATERMARK, params)
        cur.execute("ANALYZE")
        cur.execute("SELECT count(*) FROM samples_1m")
        print(f"1m tier rows: {cur.fetchone()[0]}")  # type: ignore[index]
    return time.perf_counter() - started


def view_latency(api: str, hosts: list[str], since: str) -> dict[str, Any]:
    """The requests the host page sends when it opens, for random hosts: each alone and one
    after another, and all at once as the page sends them (the view's time is the slowest)."""
    sessions = [requests.Session() for _ in range(5)]
    series_ms: list[float] = []
    sequential_ms: list[float] = []
    view_ms: list[float] = []
    tiers = set()
    points = 0
    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        for i in range(REPEATS):
            host = random.Random(i).choice(hosts)
            asked = view_requests(api, host, since)
            started = time.perf_counter()
            for session, (url, params) in zip(sessions, asked, strict=True):
                before = time.perf_counter()
                answer = session.get(url, params=params, timeout=30)
                answer.raise_for_status()
            series_ms.append((time.perf_counter() - before) * 1000)  # the last one
            sequential_ms.append((time.perf_counter() - started) * 1000)
            body = answer.json()
            tiers.add(body["tier"])
            points = sum(len(s["points"]) for s in body["series"])
            started = time.perf_counter()
            sent = [
                pool.submit(session.get, url, params=params, timeout=30)
                for session, (url, params) in zip(sessions, asked, strict=True)
            ]
            for future in sent:
                future.result().raise_for_status()
            view_ms.append((time.perf_counter() - started) * 1000)
    return {
        "series": summary(series_ms),
        "one_after_another": summary(sequential_ms),
        "view": summary(view_ms),
        "tiers": sorted(tiers),
        "points_per_answer": points,
    }


def view_requests(api: str, host: str, since: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """What frontend/js/host.js asks when a host page opens: the host's entry, latest, alerts
    and their markers, and one series request with every chart's metrics (last)."""
    now_ms = int(time.time() * 1000)
    since_ms = now_ms - RANGE_MS[since]
    return [
        (f"{api}/api/v1/hosts/{host}", []),
        (f"{api}/api/v1/hosts/{host}/latest", []),
        (f"{api}/api/v1/alerts", []),
        (
            f"{api}/api/v1/alerts/history",
            [("host", host), ("from", str(since_ms)), ("to", str(now_ms + 1)), ("limit", "500")],
        ),
        (
            f"{api}/api/v1/series",
            [
                ("host", host),
                ("from", str(since_ms)),
                ("to", str(now_ms)),
                ("max_points", str(MAX_POINTS)),
                *(("metric", m) for m in VIEW_METRICS),
            ],
        ),
    ]


def database_time(database_url: str, host: str, days: int) -> float:
    """PostgreSQL's own execution time (EXPLAIN ANALYZE) of a view's tier read: every series
    of the host, from the tier the API chooses, as the API reads it."""
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    choice = choose_tier(TIERS, RangeQuery(start, now), now, MAX_POINTS)
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM series WHERE host = %s", (host,))
        ids = [row[0] for row in cur.fetchall()]
        cur.execute(sql.TIER_WATERMARKS)
        params = series_parameters(host, ids, choice, dict(cur.fetchall()), (start, now))
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + series_statement(choice), params)
        plan = cur.fetchone()[0][0]  # type: ignore[index]
    return round(float(plan["Execution Time"]), 1)


def health_latency(api: str) -> dict[str, float]:
    session = requests.Session()
    return timed_ms(
        REPEATS, lambda _: session.get(f"{api}/api/v1/health", timeout=30).raise_for_status()
    )


# Chrome's trace of the page while it updates: the user timings and the main thread's slices,
# each with its thread (CPU) time beside its wall time.
TRACE_CATEGORIES = ["devtools.timeline", "blink.user_timing"]


def cpu_per_update(trace: bytes, name: str) -> list[float]:
    """The main thread's CPU time for each update measured as ``name`` (ms): the thread time of
    the smallest traced slice that holds the update. Wall time also counts the moments the
    renderer waits for a core, which on a box shared with the whole cloud is most of its tail."""
    events = json.loads(trace)["traceEvents"]
    measures = [e for e in events if e.get("name") == name and e.get("ph") in ("b", "e")]
    if not measures:
        return []
    pid = measures[0]["pid"]
    main = next(
        e["tid"]
        for e in events
        if e.get("name") == "thread_name"
        and e["pid"] == pid
        and e["args"].get("name") == "CrRendererMain"
    )
    begins = sorted(e["ts"] for e in measures if e["ph"] == "b")
    ends = sorted(e["ts"] for e in measures if e["ph"] == "e")
    slices = [
        e
        for e in events
        if e.get("ph") == "X" and e["pid"] == pid and e["tid"] == main and "tdur" in e
    ]
    times = []
    for start, end in zip(begins, ends, strict=True):
        holding = [s for s in slices if s["ts"] <= start and s["ts"] + s["dur"] >= end]
        if holding:
            times.append(min(holding, key=lambda s: s["dur"])["tdur"] / 1000)
    return times


def browser_updates(api: str, fleet: Fleet) -> dict[str, dict[str, float]]:
    watched = fleet.hosts[0]
    stop = threading.Event()

    def others() -> None:  # the rest of the fleet, every 5 s like default agents
        while not stop.is_set():
            now = int(time.time() * 1000)
            for host in fleet.hosts[1:]:
                fleet.send(host, [now])
            stop.wait(5)

    def watched_host() -> None:
        while not stop.is_set():
            fleet.send(watched, [int(time.time() * 1000)])
            stop.wait(1)

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    results: dict[str, dict[str, float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        threads = [threading.Thread(target=others), threading.Thread(target=watched_host)]
        for thread in threads:
            thread.start()
        try:
            page.goto(f"{api}/?host={watched.hostname}")
            page.wait_for_selector("#connection[data-state=live]")
            page.evaluate("performance.clearMeasures()")
            browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
            time.sleep(LIVE_SECONDS)
            host_cpu_ms = cpu_per_update(browser.stop_tracing(), "hostpulse:live-update")
            host_ms = page.evaluate(
                "performance.getEntriesByName('hostpulse:live-update').map(e => e.duration)"
            )
            page.goto(f"{api}/")
            page.wait_for_selector("#connection[data-state=live]")
            page.evaluate("performance.clearMeasures()")
            browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
            time.sleep(LIVE_SECONDS)
            fleet_cpu_ms = cpu_per_update(browser.stop_tracing(), "hostpulse:fleet-update")
            fleet_ms = page.evaluate(
                "performance.getEntriesByName('hostpulse:fleet-update').map(e => e.duration)"
            )
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            browser.close()
    results["host_page_live_update_ms"] = summary(host_ms)
    results["host_page_live_update_cpu_ms"] = summary(host_cpu_ms)
    results["fleet_page_update_ms"] = summary(fleet_ms)
    results["fleet_page_update_cpu_ms"] = summary(fleet_cpu_ms)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--live-only",
        action="store_true",
        help="only the browser's live updates, without history; printed, not recorded",
    )
    live_only = parser.parse_args().live_only
    with local_cloud("dashboard") as cloud:
        e = cloud.endpoints
        api = e["local_api_url"]
        fleet = Fleet(cloud)
        now_ms = int(time.time() * 1000)
        for host in fleet.hosts:  # the last two minutes through the real path
            fleet.send(host, [now_ms - 120_000 + 5000 * i for i in range(24)])
        names = [h.hostname for h in fleet.hosts]
        time.sleep(5)  # aggregation of those batches creates the series rows
        if live_only:
            print(json.dumps(browser_updates(api, fleet), indent=1))
            return
        fill_s = fill_history(e["database_url"], names, datetime.now(UTC))
        health = health_latency(api)
        views = {}
        for name, days in RANGES.items():
            views[name] = view_latency(api, names, f"-{name}")
            views[name]["database_ms"] = database_time(e["database_url"], names[0], days)
        browser = browser_updates(api, fleet)
        write_result(
            "dashboard",
            {
                "hosts": HOSTS,
                "cores": CORES,
                "history_days": {"1m, 5m, 30m": DAYS, "1h, 6h": LONG_DAYS},
                "history_fill_s": round(fill_s, 1),
                "health_round_trip_ms": health,
                **{f"view_{name}": view for name, view in views.items()},
                **{
                    f"view_{name}_p95_vs_health_p95": round(view["view"]["p95"] / health["p95"], 1)
                    for name, view in views.items()
                },
                **browser,
            },
        )


if __name__ == "__main__":
    main()
