"""Samples per second through the remote-write receiver into PostgreSQL, beside the same samples
sent as hostpulse's own wire contract, in the same run.

A fleet of node_exporter hosts (about 1,000 series each: CPU seconds by core and mode, memory,
filesystems, disks, network interfaces; counters that grow, gauges that wander) scraped every
15 s. Remote write sends them as Prometheus does, 2,000 samples a request (Prometheus' default
since 2.46, Alloy's), snappy-compressed, the series of several hosts in one request; the wire
contract sends each host's scrape as one batch of one sample holding the same values as custom
series, gzipped. Each path is the ingest service as hostpulse.wiring builds it, with the local
cloud's Redis (rate, budget, hot tier) and PostgreSQL (tokens), then the aggregate path on what
it queued, ten messages a transaction as the trigger delivers them, into PostgreSQL. Then
the rollups of what both paths wrote (every tier, as the aggregate function runs them), and the
same rollups again with the series taken for gauges: what keeping a counter's first value and
resets costs on a fleet whose series are mostly counters.

The queue in between is this process' memory: SQS is AWS' CPU, not hostpulse's, and here it
would be LocalStack's emulator (docs/benchmarks.md measures that one apart). What is counted is
CPU time: this process' (ingest and aggregate) plus PostgreSQL's and Redis' processes', so that
"per core" means per core of the whole path. The paths alternate in rounds, each writing hosts
of its own.
"""

from __future__ import annotations

import gzip
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2

from bench.common import (
    SMOKE,
    NoCounters,
    local_cloud,
    rounds,
    settings_for,
    sized,
    trigger,
    unlimited_ingest_settings,
    write_result,
)
from hostpulse.core.contract import Batch, HostFacts, Sample
from hostpulse.core.prometheus_names import exact_series_key
from hostpulse.core.settings import CoreSettings
from hostpulse.core.tiers import default_tiers
from hostpulse.services.agents.tokens import register_agent
from hostpulse.services.aggregate.rollup import SETTLE, roll_up_tiers
from hostpulse.services.aggregate.service import aggregate_records
from hostpulse.services.ingest.remote_write.route import ingest_remote_write
from hostpulse.services.ingest.remote_write.wire import WriteRequest, encode
from hostpulse.services.ingest.service import IngestRequest
from hostpulse.wiring import by_url, components

HOSTS = sized(40, 2)
SCRAPES = sized(12, 2)
ROUNDS = sized(6, 2)
SCRAPE_MS = 15_000
PER_REQUEST = 2000
SQS_BATCH = trigger("aggregate").batch_size
AIM_PER_CORE = 100_000
SERIES = 1000  # a host's
TIERS = default_tiers()


@dataclass
class NodeExporter:
    """One host's node_exporter: its series and their values, moved on by each scrape."""

    host: str
    seed: int
    series: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    counters: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        instance = [("instance", f"{self.host}:9100"), ("job", "node")]

        def add(name: str, counter: bool, **labels: str) -> None:
            self.series.append((name, sorted([*labels.items(), *instance])))
            self.values.append(rng.uniform(0, 1e6) if counter else rng.uniform(0, 1e10))
            self.counters.append(counter)

        for cpu in range(16):
            for mode in ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"):
                add("node_cpu_seconds_total", True, cpu=str(cpu), mode=mode)
        for i in range(180):
            add(f"node_memory_field{i}_bytes", False)
        for mount in range(12):
            for name in ("avail", "free", "size", "files", "files_free"):
                add(
                    f"node_filesystem_{name}_bytes",
                    False,
                    mountpoint=f"/m{mount}",
                    fstype="ext4",
                    device=f"/dev/sd{mount}",
                )
        for disk in range(8):
            for name in (
                "reads_completed",
                "writes_completed",
                "read_bytes",
                "written_bytes",
                "io_time_seconds",
                "io_now",
                "read_time_seconds",
                "write_time_seconds",
            ):
                add(f"node_disk_{name}_total", True, device=f"sd{disk}")
        for nic in range(10):
            for direction in ("receive", "transmit"):
                for name in ("bytes", "packets", "errs", "drop", "fifo", "compressed"):
                    add(f"node_network_{direction}_{name}_total", True, device=f"eth{nic}")
        for i in range(SERIES - len(self.series)):
            add("node_misc_value", False, index=str(i))

    def scrape(self, rng: random.Random) -> list[float]:
        for i, counter in enumerate(self.counters):
            self.values[i] += rng.uniform(0, 1000) if counter else rng.uniform(-1e6, 1e6)
        return list(self.values)


def fleet(prefix: str, start_ms: int) -> Iterator[tuple[int, NodeExporter, list[float]]]:
    """Every scrape of every host, in time order."""
    hosts = [NodeExporter(f"{prefix}-{h:03d}", seed=h) for h in range(HOSTS)]
    rng = random.Random(7)
    for scrape in range(SCRAPES):
        for host in hosts:
            yield start_ms + scrape * SCRAPE_MS, host, host.scrape(rng)


def remote_write_bodies(prefix: str, start_ms: int) -> list[bytes]:
    """The fleet as Prometheus' shards send it: 2,000 samples a request, in scrape order."""
    bodies, request, count = [], WriteRequest(), 0
    for ts, host, values in fleet(prefix, start_ms):
        for (name, labels), value in zip(host.series, values, strict=True):
            series = request.timeseries.add()
            series.labels.add(name="__name__", value=name)
            for key, text in labels:
                series.labels.add(name=key, value=text)
            series.samples.add(timestamp=ts, value=value)
            count += 1
            if count == PER_REQUEST:
                bodies.append(encode(request))
                request, count = WriteRequest(), 0
    if count:
        bodies.append(encode(request))
    return bodies


def v1_bodies(prefix: str, start_ms: int, fleet_name: str) -> list[bytes]:
    """The same fleet as wire-contract batches: a host's scrape, one sample of custom series,
    each host a member of one fleet token."""
    bodies = []
    for ts, host, values in fleet(prefix, start_ms):
        keys = [exact_series_key(name, labels) for name, labels in host.series]
        batch = Batch(
            agent_id=f"{fleet_name}.{host.host}",
            seq=ts,
            host=HostFacts(hostname=host.host),
            samples=[Sample(ts_ms=ts, custom=dict(zip(keys, values, strict=True)))],
        )
        bodies.append(gzip.compress(batch.model_dump_json().encode()))
    return bodies


class MemoryQueue:
    """The queue between ingest and aggregation, in this process (see the module's note)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def send(self, body: str, dedup_key: str) -> None:
        self.messages.append((dedup_key, body))


def server_cpu_s(pids: list[int]) -> float:
    """CPU seconds the processes (and their children waited for) have used."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(f) for f in fields[11:15]) / ticks  # utime stime cutime cstime
    return total


def servers(state_dir: Path) -> list[int]:
    """PostgreSQL's processes (the postmaster and its backends) and Redis'."""
    run = state_dir / "run"
    roots = {int((run / f"{name}.pid").read_text()) for name in ("postgres", "redis")}
    found = set(roots)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, IndexError):
                continue
            if parent in roots:
                found.add(int(entry.name))
    return sorted(found)


def rollups_cpu_s(store: Any, pids: list[int], until: datetime) -> float:
    """CPU of rolling every tier up to ``until``, this process' and the servers'."""
    cpu0, server0 = time.process_time(), server_cpu_s(pids)
    while not roll_up_tiers(store, TIERS, until):
        pass
    return time.process_time() - cpu0 + server_cpu_s(pids) - server0


def as_gauges(url: str) -> None:
    """The benchmark's counters taken for gauges, and their rolled buckets cleared: the next
    rollups insert them anew, as the first did."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE series SET counter = false WHERE host LIKE 'bench-%'")
        for tier in TIERS:
            if tier.rolled:
                cur.execute(f"TRUNCATE {tier.table}")  # only the benchmark's, in its own cloud


def wound_back(url: str, start_ms: int) -> None:
    """Every tier's watermark back to the six hours holding ``start_ms``: the samples come
    before their buckets are rolled, as a fleet's do (not after, as late ones), and the next
    rollups roll them all. Not in a smoke run: the smoke runs share a cloud whose tiers are
    not this run's to wind back."""
    if SMOKE:
        return
    six_hours = 6 * 3600 * 1000
    since = datetime.fromtimestamp(start_ms // six_hours * six_hours / 1000, UTC)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE tier_watermarks SET rolled_through = %s", (since,))


def measured_rollups(cloud: Any, store: Any, start_ms: int, now_ms: int) -> dict[str, float]:
    """Every bucket both paths wrote closed, then rolled as the aggregate function would; and
    again with the counters taken for gauges."""
    rolled_at = datetime.fromtimestamp(now_ms / 1000, UTC) + timedelta(hours=6) + SETTLE
    pids = servers(cloud.state_dir)
    rollups = {"counters": rollups_cpu_s(store, pids, rolled_at)}
    if not SMOKE:
        as_gauges(cloud.endpoints["database_url"])
        wound_back(cloud.endpoints["database_url"], start_ms)
        rollups["as_gauges"] = rollups_cpu_s(store, pids, rolled_at)
    return rollups


def main() -> None:
    with local_cloud("remote-write") as cloud:
        e = cloud.endpoints
        repository = by_url.agent_repository(e["database_url"])
        token = register_agent(repository, "bench-rw", ["bench-rw-*"])
        v1_token = register_agent(repository, "bench-v1", ["bench-v1-*"], fleet=True)
        service = components.ingest_service(NoCounters(), unlimited_ingest_settings(cloud))
        queue = MemoryQueue()
        service.queue = queue
        store = components.metric_store_for(settings_for(cloud, CoreSettings))
        archive = components.archive(settings_for(cloud, CoreSettings), e["buckets"]["archive"])
        now_ms = int(time.time() * 1000)
        start_ms = now_ms - SCRAPES * SCRAPE_MS
        written = remote_write_bodies("bench-rw", start_ms)
        as_v1 = v1_bodies("bench-v1", start_ms, "bench-v1")
        samples = HOSTS * SCRAPES * SERIES
        rw_headers = {
            "authorization": f"Bearer {token}",
            "content-type": "application/x-protobuf",
            "content-encoding": "snappy",
        }
        v1_headers = {"authorization": f"Bearer {v1_token}", "content-encoding": "gzip"}

        def path(
            send: Callable[[IngestRequest], Any],
            bodies: list[bytes],
            headers: dict[str, str],
            ok: int,
        ) -> Callable[[range], dict[str, float]]:
            def run(part: range) -> dict[str, float]:
                pids = servers(cloud.state_dir)
                cpu0, server0, wall0 = time.process_time(), server_cpu_s(pids), time.perf_counter()
                for i in part:
                    response = send(IngestRequest(bodies[i], headers, int(time.time() * 1000)))
                    assert response.status == ok, response.raw or response.body
                ingest_cpu = time.process_time() - cpu0
                messages, queue.messages = queue.messages, []
                for first in range(0, len(messages), SQS_BATCH):
                    outcome = aggregate_records(messages[first : first + SQS_BATCH], store, archive)
                    assert not outcome.failed
                return {
                    "ingest_cpu_s": ingest_cpu,
                    "aggregate_cpu_s": time.process_time() - cpu0 - ingest_cpu,
                    "server_cpu_s": server_cpu_s(pids) - server0,
                    "wall_s": time.perf_counter() - wall0,
                }

            return run

        remote = path(lambda r: ingest_remote_write(service, r), written, rw_headers, 204)
        v1 = path(service.ingest, as_v1, v1_headers, 202)
        wound_back(e["database_url"], start_ms)
        runs: dict[str, list[dict[str, float]]] = {"remote_write": [], "v1": []}
        for part_rw, part_v1 in zip(
            rounds(len(written), ROUNDS), rounds(len(as_v1), ROUNDS), strict=True
        ):
            runs["remote_write"].append(remote(part_rw))
            runs["v1"].append(v1(part_v1))

        rollups = measured_rollups(cloud, store, start_ms, now_ms)

    def totals(name: str) -> dict[str, float]:
        keys = runs[name][0].keys()
        summed = {k: round(sum(r[k] for r in runs[name]), 2) for k in keys}
        cpu = summed["ingest_cpu_s"] + summed["aggregate_cpu_s"] + summed["server_cpu_s"]
        return {
            **summed,
            "samples_per_cpu_s": round(samples / cpu),
            "samples_per_s": round(samples / summed["wall_s"]),
        }

    def ratio() -> float:
        def cpu(r: dict[str, float]) -> float:
            return r["ingest_cpu_s"] + r["aggregate_cpu_s"] + r["server_cpu_s"]

        pairs = zip(runs["remote_write"], runs["v1"], strict=True)
        return round(statistics.median(cpu(a) / cpu(b) for a, b in pairs), 2)

    remote_total, v1_total = totals("remote_write"), totals("v1")
    # The rollups covered both paths' samples; each path's share is half.
    path_cpu = samples / remote_total["samples_per_cpu_s"]
    with_rollups = round(samples / (path_cpu + rollups["counters"] / 2))
    write_result(
        "remote_write",
        {
            "hosts": HOSTS,
            "scrapes": SCRAPES,
            "series_per_host": SERIES,
            "samples": samples,
            "samples_per_request": PER_REQUEST,
            "requests": len(written),
            "remote_write": remote_total,
            "v1": v1_total,
            "remote_write_cpu_vs_v1": ratio(),
            "rollups_cpu_s": {k: round(v, 2) for k, v in rollups.items()},
            "remote_write_samples_per_cpu_s_with_rollups": with_rollups,
            "aim_samples_per_cpu_s": AIM_PER_CORE,
        },
    )


if __name__ == "__main__":
    main()
