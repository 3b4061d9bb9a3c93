"""The hot tier's layout in Redis: one definition for the writer (ingest) and the readers."""

from __future__ import annotations

import hashlib
import json

from hostpulse.core.contract import Sample, metric_values
from hostpulse.core.responses import AtAGlance, CompactSample

PREFIX = "hp"
HOSTS = f"{PREFIX}:hosts"  # sorted set: host -> last seen (ms)
FACTS = f"{PREFIX}:facts"  # hash: host -> HostFacts JSON
# hash: host -> its newest sample at a glance (JSON), so that the fleet page reads every host's
# figures with one command instead of a sample per host
GLANCE = f"{PREFIX}:glance"


def window_key(host: str) -> str:
    return f"{PREFIX}:window:{host}"  # sorted set: compact sample -> ts (ms)


def latest_key(host: str) -> str:
    return f"{PREFIX}:latest:{host}"  # hash: ts, sample (full, with processes)


def live_channel(host: str) -> str:
    return f"{PREFIX}:live:{host}"


def deployment_id(aggregate_queue_url: str | None) -> str:
    """Names one deployment by its aggregate queue, so that several sharing a Redis or a
    database never mix their figures nor stop each other."""
    if not aggregate_queue_url:
        return "default"
    return hashlib.sha256(aggregate_queue_url.encode()).hexdigest()[:16]


def draining_key(aggregate_queue_url: str) -> str:
    """Set while one deployment shuts down (ingest answers 503)."""
    return f"{PREFIX}:draining:{deployment_id(aggregate_queue_url)}"


def pipeline_minute_key(deployment: str, minute_ms: int) -> str:
    return f"{PREFIX}:pipeline:{deployment}:{minute_ms}"  # hash: tally name -> count


def rate_key(agent_id: str) -> str:
    return f"{PREFIX}:rate:{agent_id}"


def auth_failures_key(source: str) -> str:
    """Failed token look-ups of one client address in the current minute."""
    return f"{PREFIX}:authfail:{source}"


def compact(sample: Sample) -> str:
    """A sample as the live views need it: timestamp and metric values, no processes."""
    return json.dumps({"ts": sample.ts_ms, "m": dict(metric_values(sample))}, separators=(",", ":"))


def glance(sample: Sample) -> AtAGlance:
    """A sample as the fleet view shows it: CPU, memory, its fullest disk, load."""
    metrics = dict(metric_values(sample))
    disks = [v for name, v in metrics.items() if name.startswith("disk.percent:")]
    return {
        "ts_ms": sample.ts_ms,
        "cpu_percent": metrics.get("cpu.percent"),
        "mem_percent": metrics.get("mem.percent"),
        "disk_percent": max(disks) if disks else None,
        "load1": metrics.get("load.1"),
    }


def parse_compact(member: bytes | str) -> CompactSample:
    data: CompactSample = json.loads(member)
    return data


def counters_key(host: str) -> str:
    return f"{PREFIX}:otlp:counters:{host}"  # hash: series -> its last two counter points


def series_key(host: str) -> str:
    return f"{PREFIX}:series:{host}"  # set: 64-bit digests of the host's series (the budget)


PROMETHEUS_METADATA = f"{PREFIX}:prometheus:metadata"  # hash: metric -> [type, help, unit]
