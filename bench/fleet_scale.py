"""A fleet on this machine: simulated hosts through ingest on the local cloud, in either runtime
(``--runtime processes``: ingest and the workers as processes; ``lambda``: through LocalStack's
API Gateway and Lambda service).

Each host samples every 5 s and sends every 10 s, as the agent does by default, with its own
token and a growing sequence number; a batch keeps its number through its retries (5xx,
connection errors, 429 with its Retry-After), as the agent does. The generator is one asyncio
process, a host a coroutine; every batch is built and compressed before the clock starts, and
the POSTs are written on kept-alive connections directly (bench/http_posts.py), so the
generator costs the box little while it runs. At most ``--concurrency`` requests
are in flight: on the Lambda runtime as a reserved concurrency would hold the ingest function
(LocalStack starts a function runtime per concurrent request, and a hundred cold starts at once
on two cores thrash: a first run without the bound ran 100 runtimes, 10 GB, 0.8 batches/s);
on the process runtime as many as a fleet's agents would have open at once.

Reported: POSTs (attempts), batches accepted (202), stored (in PostgreSQL once the queue has
drained, or queued still when the drain time ran out), dead-lettered (lost to the pipeline) and
not accepted by the end (an agent keeps those in its spool); the send delay (due to sent: the
backlog when the box cannot keep up); ingest latency p50/p95 of the accepted POSTs; aggregate
lag p50/p95, from a batch's newest sample to the moment its row (written in the same
transaction as its 1-minute buckets) is visible, for a sample of hosts; CPU (share of one core)
and resident memory by component, sampled every 5 s. While the fleet sends, a reader opens the
fleet page (host list and active alerts, at once as the page asks) and a random host's page
over 24 h (its five requests at once), one every 2 s, as a user watching would.

    .venv/bin/python -m bench.fleet_scale --hosts 1000 --minutes 10 [--runtime lambda]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import psycopg2

from bench.common import local_cloud, summary, timed_ms, write_result
from bench.dashboard import view_requests
from bench.http_posts import Answer, Posts
from hostpulse.adapters.aws.clients import aws_client
from hostpulse.services.agents.tokens import register_agent
from hostpulse.simulation.fleet import backoff_s, from_ingest
from hostpulse.simulation.host import SyntheticHost
from hostpulse.wiring import by_url

INTERVAL_S = 5.0  # the agent's defaults
SEND_EVERY_S = 10.0
LAG_SAMPLE = 50  # hosts whose batches are timed into PostgreSQL
# How long after its last planned send a host keeps retrying, and the pipeline may take to
# store what was accepted (--drain-minutes).
DRAIN_S = 300
CORES = 4
PAGE_EVERY_S = 2.0
# Requests in flight: the ingest function's reserved concurrency on the Lambda runtime; on the
# process runtime, agents' connections at once (a fleet's sends are spread over 10 s).
CONCURRENCY = {"lambda": 8, "processes": 64}


@dataclass
class Tally:
    sent: int = 0  # POSTs, retries included
    accepted: int = 0
    not_accepted: int = 0  # still refused when the run ended: they wait in the agents' spools
    latencies_ms: list[float] = field(default_factory=list)
    delays_s: list[float] = field(default_factory=list)  # due to sent: the fleet's backlog
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    newest_ms: dict[tuple[str, int], int] = field(default_factory=dict)  # lag-sampled batches


@dataclass(frozen=True)
class Planned:
    due: float  # when the agent sends it (Unix seconds)
    agent: str
    seq: int
    newest_ms: int
    body: bytes  # gzip JSON, built before the clock starts


def plan_host(host: SyntheticHost, start: float, until: float) -> list[Planned]:
    """One host's batches: a sample every 5 s, a batch every 10 s, from a random offset (hosts
    do not start in step)."""
    due = start + random.Random(host.hostname).uniform(0, SEND_EVERY_S)
    per_batch = int(SEND_EVERY_S / INTERVAL_S)
    planned = []
    while due < until:
        now_ms = int(due * 1000)
        stamps = [now_ms - int(INTERVAL_S * 1000) * (per_batch - 1 - i) for i in range(per_batch)]
        batch = host.batch(stamps)
        body = gzip.compress(batch.model_dump_json().encode())
        planned.append(Planned(due, batch.agent_id, batch.seq, stamps[-1], body))
        due += SEND_EVERY_S
    return planned


def plan_fleet(hosts: list[SyntheticHost], minutes: float) -> list[list[Planned]]:
    """Every batch of the run, built first, so that building them costs the run nothing: the
    start is set far enough ahead for the building to finish (timed on one host first)."""
    started = time.perf_counter()
    plan_host(SyntheticHost("timing", cores=CORES), time.time(), time.time() + 60)
    per_host_minute = time.perf_counter() - started
    start = time.time() + per_host_minute * len(hosts) * minutes * 1.3 + 10
    plans = [plan_host(host, start, start + minutes * 60) for host in hosts]
    time.sleep(max(0.0, start - time.time()))
    return plans


async def run_host(  # noqa: PLR0913, PLR0917 -- one host: its batches, where, and what to count
    posts: Posts,
    plan: list[Planned],
    token: str,
    tally: Tally,
    timed: bool,
    drain_s: float,
) -> None:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    deadline = plan[-1].due + drain_s if plan else 0.0
    for batch in plan:
        await asyncio.sleep(max(0.0, batch.due - time.time()))
        head = posts.head(headers, len(batch.body))
        accepted = await send(posts, head, batch, tally, deadline)
        if accepted and timed:
            tally.newest_ms[(batch.agent, batch.seq)] = batch.newest_ms


async def send(posts: Posts, head: bytes, batch: Planned, tally: Tally, deadline: float) -> bool:
    """As the agent sends: until ingest takes it, retrying with backoff or as told (429)."""
    attempt = 0
    while time.time() < deadline:
        if attempt == 0:
            tally.delays_s.append(time.time() - batch.due)
        tally.sent += 1
        try:
            answer: Answer | None = await posts.post(head, batch.body)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            answer = None
            tally.failures[type(error).__name__] += 1
        if answer is not None and answer.status == 202 and from_ingest(answer.body):
            tally.accepted += 1
            tally.latencies_ms.append(answer.elapsed_ms)
            return True
        if answer is not None:
            tally.failures[f"http_{answer.status}"] += 1
        retry_after = answer.headers.get("retry-after") if answer is not None else None
        await asyncio.sleep(float(retry_after) if retry_after else backoff_s(attempt))
        attempt += 1
    tally.not_accepted += 1
    return False


async def watch_lag(database_url: str, tally: Tally, stop: asyncio.Event) -> list[float]:
    """When each timed batch becomes visible in PostgreSQL, against its newest sample."""
    lags: list[float] = []
    seen: set[tuple[str, int]] = set()
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    try:
        while not stop.is_set():
            waiting = [key for key in tally.newest_ms if key not in seen]
            if waiting:
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT b.agent_id, b.seq FROM batches b "
                        "JOIN unnest(%s::text[], %s::bigint[]) AS k(agent_id, seq) "
                        "ON b.agent_id = k.agent_id AND b.seq = k.seq",
                        ([a for a, _ in waiting], [s for _, s in waiting]),
                    )
                    now_ms = time.time() * 1000
                    for key in cur.fetchall():
                        seen.add(key)
                        lags.append((now_ms - tally.newest_ms[key]) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        conn.close()
    return lags


def component(process: psutil.Process, me: int) -> str:
    if process.pid == me:
        return "load generator"
    try:
        line = " ".join(process.cmdline())
        if "hostpulse_lambda_executor" in line:  # a function's runtime, as LocalStack runs it
            return f"function {process.environ().get('AWS_LAMBDA_FUNCTION_NAME', '?')}"
    except psutil.Error:
        return "other"
    for needle, name in (
        ("postgres", "PostgreSQL"),
        ("redis-server", "Redis"),
        ("localstack", "LocalStack"),
        ("functions.ingest.asgi", "ingest processes"),
        ("worker aggregate", "aggregate worker"),
        ("worker alerts", "alerts worker"),
        ("cli.main scheduler", "scheduler"),
        ("api.app:served_app", "query API (uvicorn)"),
        ("cli.main up", "supervisor"),
    ):
        if needle in line:
            return name
    return "other"


async def watch_resources(stop: asyncio.Event) -> dict[str, dict[str, float]]:
    """CPU (share of one core) and RSS by component, every 5 s."""
    me = psutil.Process().pid
    cpu: dict[str, list[float]] = defaultdict(list)
    rss: dict[str, list[float]] = defaultdict(list)
    before: dict[int, float] = {}
    names: dict[int, str] = {}
    last = time.perf_counter()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=5.0)
        now = time.perf_counter()
        used: dict[str, float] = defaultdict(float)
        memory: dict[str, float] = defaultdict(float)
        current: dict[int, float] = {}
        for process in psutil.process_iter():
            try:
                times = process.cpu_times()
                total = times.user + times.system
                if process.pid not in names:
                    names[process.pid] = component(process, me)
                name = names[process.pid]
                memory[name] += process.memory_info().rss / 2**20
            except psutil.Error:
                continue
            current[process.pid] = total
            if process.pid in before:
                used[name] += max(0.0, total - before[process.pid])
        if before:
            for name in set(used) | set(memory):
                cpu[name].append(100 * used[name] / (now - last))
                rss[name].append(memory[name])
        before, last = current, now
    return {
        name: {
            "cpu_percent_p50": summary(cpu[name])["p50"],
            "cpu_percent_p95": summary(cpu[name])["p95"],
            "rss_mb_p95": summary(rss[name])["p95"],
        }
        for name in sorted(cpu)
        if cpu[name]
    }


def page_reads(api: str) -> dict[str, dict[str, float]]:
    """What the fleet and alert pages ask, with the whole fleet known, against the health
    round trip of the same server."""
    timings: dict[str, dict[str, float]] = {}
    with httpx.Client(timeout=30.0) as client:
        for name, path in (
            ("health", "/api/v1/health"),
            ("hosts", "/api/v1/hosts"),
            ("alert_history", "/api/v1/alerts/history"),
        ):
            url = f"{api}{path}"

            def get(_: int, url: str = url) -> None:
                client.get(url).raise_for_status()

            timings[name] = timed_ms(20, get)
        # The host list's size on the wire, as a browser gets it (gzip) and as it is.
        hosts_url = f"{api}/api/v1/hosts"
        plain = client.get(hosts_url, headers={"Accept-Encoding": "identity"})
        zipped = client.get(hosts_url, headers={"Accept-Encoding": "gzip"})
        timings["hosts_answer"] = {
            "kib": plain.num_bytes_downloaded / 1024,
            "gzip_kib": zipped.num_bytes_downloaded / 1024,
        }
    return timings


class PageReader(threading.Thread):
    """The fleet page and a host page's 24 h view, in turn every ``PAGE_EVERY_S`` while the
    fleet sends: each view's requests at once, as the page sends them (its time: the slowest)."""

    def __init__(self, api: str, hosts: list[str]) -> None:
        super().__init__(daemon=True)
        self.api, self.hosts = api, hosts
        self.stopping = threading.Event()
        self.fleet_ms: list[float] = []
        self.host_ms: list[float] = []
        self.failed = 0

    def run(self) -> None:
        fleet: list[tuple[str, list[tuple[str, str]]]] = [
            (f"{self.api}/api/v1/hosts", []),
            (f"{self.api}/api/v1/alerts", []),
        ]
        turn = 0
        with httpx.Client(timeout=30.0) as client, ThreadPoolExecutor(5) as pool:
            while not self.stopping.wait(PAGE_EVERY_S):
                host = self.hosts[turn % len(self.hosts)]
                asked, into = (
                    (fleet, self.fleet_ms) if turn % 2 == 0
                    else (view_requests(self.api, host, "-24h"), self.host_ms)
                )  # fmt: skip
                turn += 1
                started = time.perf_counter()
                answers = [pool.submit(client.get, url, params=tuple(q)) for url, q in asked]
                try:
                    for answer in answers:
                        answer.result().raise_for_status()
                except httpx.HTTPError:
                    self.failed += 1
                    continue
                into.append((time.perf_counter() - started) * 1000)


def dead_lettered(endpoints: dict[str, Any]) -> int:
    sqs = aws_client("sqs", endpoints["region"], endpoints["aws_endpoint_url"])
    return sum(
        int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])
        for url in endpoints["dead_letter_queues"].values()
    )  # fmt: skip


def stored(database_url: str, agents: list[str]) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM batches WHERE agent_id = ANY(%s)", (agents,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


async def drive(args: argparse.Namespace, endpoints: dict[str, Any]) -> dict[str, Any]:
    repository = by_url.agent_repository(endpoints["database_url"])
    hosts = [SyntheticHost(f"scale-{i:04d}", cores=CORES, seed=i) for i in range(args.hosts)]
    tokens = {h.hostname: register_agent(repository, h.agent_id) for h in hosts}
    tally = Tally()
    stop = asyncio.Event()
    plans = plan_fleet(hosts, args.minutes)
    started = time.time()
    posts = Posts(endpoints["ingest_url"], args.concurrency)
    pages = PageReader(endpoints["local_api_url"], [h.hostname for h in hosts])
    try:
        lag = asyncio.create_task(watch_lag(endpoints["database_url"], tally, stop))
        resources = asyncio.create_task(watch_resources(stop))
        pages.start()
        await asyncio.gather(*(
            run_host(posts, plan, tokens[host.hostname], tally, timed=i < LAG_SAMPLE,
                     drain_s=args.drain_minutes * 60)
            for i, (host, plan) in enumerate(zip(hosts, plans, strict=True))
        ))  # fmt: skip
        sending_s = time.time() - started
        pages.stopping.set()
        agents = [h.agent_id for h in hosts]
        drained_by = time.time() + args.drain_minutes * 60
        while stored(endpoints["database_url"], agents) < tally.accepted and (
            time.time() < drained_by
        ):
            await asyncio.sleep(2)
        stop.set()
        lags, by_component = await lag, await resources
    finally:
        posts.close()
    kept = stored(endpoints["database_url"], agents)
    pages.join()
    return {
        "runtime": endpoints.get("runtime", "lambda"),
        "processes": {
            name: record["count"] for name, record in endpoints.get("processes", {}).items()
        },
        "hosts": args.hosts,
        "minutes": args.minutes,
        "interval_s": INTERVAL_S,
        "send_every_s": SEND_EVERY_S,
        "sending_s": round(sending_s, 1),
        "concurrency": args.concurrency,
        "batches_planned": sum(len(plan) for plan in plans),
        "posts": tally.sent,
        "batches_accepted": tally.accepted,
        "batches_stored": kept,
        # Accepted batches wait in SQS until stored: not lost unless dead-lettered.
        "batches_queued_at_the_end": tally.accepted - kept,
        "messages_dead_lettered": dead_lettered(endpoints),
        "batches_not_accepted_by_the_end": tally.not_accepted,
        "accepted_per_s": round(tally.accepted / sending_s, 1),
        "planned_per_s": round(args.hosts / SEND_EVERY_S, 1),
        "failures": dict(tally.failures),
        "send_delay_s": summary(tally.delays_s) if tally.delays_s else {},
        "ingest_latency_ms": summary(tally.latencies_ms) if tally.latencies_ms else {},
        "aggregate_lag_s": summary(lags) if lags else {},
        "by_component": by_component,
        "pages_while_sending_ms": {
            "fleet_page": summary(pages.fleet_ms) if pages.fleet_ms else {},
            "host_page_24h": summary(pages.host_ms) if pages.host_ms else {},
            "failed": pages.failed,
        },
        "page_reads_ms": page_reads(endpoints["local_api_url"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--drain-minutes", type=float, default=DRAIN_S / 60)
    parser.add_argument("--runtime", choices=sorted(CONCURRENCY), default="processes")
    parser.add_argument("--ingest-processes", type=int, default=2)
    parser.add_argument("--aggregate-workers", type=int, default=1)
    parser.add_argument(
        "--concurrency", type=int, help=f"requests in flight at once (default {CONCURRENCY})"
    )
    args = parser.parse_args()
    settings = {
        "HOSTPULSE_RUNTIME": args.runtime,
        "HOSTPULSE_INGEST_PROCESSES": str(args.ingest_processes),
        "HOSTPULSE_AGGREGATE_WORKERS": str(args.aggregate_workers),
    }
    with local_cloud(f"fleet-{args.runtime}", settings) as cloud:
        runtime = cloud.endpoints.get("runtime", "lambda")
        args.concurrency = args.concurrency or CONCURRENCY[runtime]
        result = asyncio.run(drive(args, cloud.endpoints))
    write_result(f"fleet_scale_{runtime}_{args.hosts}", result)


if __name__ == "__main__":
    main()
