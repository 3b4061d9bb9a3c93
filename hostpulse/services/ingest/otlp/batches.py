"""One host's OTLP points as a wire-contract batch: the same queue, tiers and exactly-once
effect as an agent's.

A sender's points of one collection carry slightly different times (each of the Collector's
scrapers stamps its own), so points less than a second apart, and of series not yet seen in
that collection, make one sample. An OTLP sender numbers nothing, so the batch's sequence number
is its newest sample's millisecond followed by 20 bits of a digest of what the request said
about the host: a request sent again is the same batch (stored once), another one with the
same newest time is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hostpulse.core.contract import (
    HOSTNAME,
    INT32_MAX,
    MAX_SAMPLES_PER_BATCH,
    Batch,
    HostFacts,
    Sample,
    metric_values,
)
from hostpulse.services.ingest.numbering import agent_id, sequence
from hostpulse.services.ingest.otlp.counters import CounterPoint, CounterState, advance_all
from hostpulse.services.ingest.otlp.points import HostPoints, Point
from hostpulse.services.ingest.otlp.semconv import (
    CPU_METRICS,
    CPU_NUMBER,
    Reading,
    attribute,
    sample_fields,
    text,
)

COLLECTION_NS = 10**9
OTLP_AGENT_VERSION = "otlp"
# Resource attributes that say what a host is, not how to group it: not labels.
NOT_LABELS = ("host.", "process.", "os.", "telemetry.")
MAX_LABELS = 32


@dataclass
class Converted:
    batch: Batch | None
    refused: int  # points that could not be kept
    counters: dict[str, CounterState]  # the counter states after this request


def series_key(point: Point) -> str:
    attributes = ",".join(f"{k}={v}" for k, v in sorted(point.attributes.items()))
    return f"{point.pid or ''}|{point.metric}|{attributes}"


def collections(points: Iterable[Point]) -> list[list[Point]]:
    """Points grouped into collections: in time order, within a second of the first, no
    series twice."""
    groups: list[list[Point]] = []
    keys: set[str] = set()
    for point in sorted(points, key=lambda p: p.time_ns):
        key = series_key(point)
        if groups and point.time_ns - groups[-1][0].time_ns < COLLECTION_NS and key not in keys:
            groups[-1].append(point)
        else:
            groups.append([point])
            keys = set()
        keys.add(key)
    return groups


def cores_named(points: Iterable[Point]) -> int:
    """The host's logical CPUs, as its CPU metrics name them: known from the first request,
    before any rate can be (``system.cpu.logical.count`` where it is sent)."""
    named = {
        attribute(p.attributes, *CPU_NUMBER)
        for p in points
        if p.pid is None and p.metric in CPU_METRICS
    }
    counted = [int(p.value) for p in points if p.metric == "system.cpu.logical.count"]
    return min(INT32_MAX, max([len(named - {""}), *counted]))


def facts(host: HostPoints, cores: int) -> HostFacts:
    resource = host.resource
    labels = {
        text(key, 64): text(value)
        for key, value in resource.items()
        if isinstance(value, str) and text(key, 64) and not key.startswith(NOT_LABELS)
    }
    sdk = " ".join(
        str(resource[k])
        for k in ("telemetry.sdk.language", "telemetry.sdk.version")
        if k in resource
    )
    logical = resource.get("host.cpu.logical_count")
    return HostFacts(
        hostname=host.hostname,
        os=text(attribute(resource, "os.description", "os.type")),
        platform=text(attribute(resource, "host.arch")),
        cpu_count=cores
        or (logical if isinstance(logical, int) and 0 < logical <= INT32_MAX else None),
        agent_version=f"{OTLP_AGENT_VERSION} {sdk}".strip(),
        labels=dict(list(labels.items())[:MAX_LABELS]),
    )


def convert(
    host: HostPoints,
    grant_name: str,
    counters: dict[str, CounterState],
    window_ns: tuple[int, int],
) -> Converted:
    """The host's batch (None when nothing in the request had a place in one). Points outside
    ``window_ns`` (what the raw tier keeps, up to the server's clock and its allowance) are
    refused: OTLP refuses points, not requests."""
    refused = host.refused
    if not re.match(HOSTNAME, host.hostname):
        return Converted(None, refused + len(host.points), counters)
    earliest, latest = window_ns
    inside = [p for p in host.points if earliest <= p.time_ns <= latest]
    refused += len(host.points) - len(inside)
    samples: list[Sample] = []
    cores = 0
    for group in collections(inside):
        totals = {
            series_key(p): CounterPoint(p.start_ns, p.time_ns, p.value)
            for p in group
            if p.cumulative
        }
        bases, changed = advance_all(counters, totals)
        counters = {**counters, **changed}
        reading = Reading([(p, rate_of(p, bases.get(series_key(p)))) for p in group])
        fields, seen_cores, refused_here = sample_fields(reading, host.processes)
        cores = max(cores, seen_cores)
        sample, dropped = valid_sample(group[-1].time_ns // 10**6, fields)
        refused += refused_here + dropped
        if sample is not None:
            samples.append(sample)
    samples = unique_times(samples)
    if len(samples) > MAX_SAMPLES_PER_BATCH:  # the oldest go: a sample's worth per collection
        refused += sum(len(list(metric_values(s))) for s in samples[:-MAX_SAMPLES_PER_BATCH])
        samples = samples[-MAX_SAMPLES_PER_BATCH:]
    if not samples:
        return Converted(None, refused, counters)
    batch = Batch(
        agent_id=agent_id(grant_name, host.hostname),
        seq=sequence(max(s.ts_ms for s in samples), b"".join(host.serialized)),
        host=facts(host, max(cores, cores_named(host.points))),
        samples=samples,
    )
    return Converted(batch, refused, counters)


def valid_sample(ts_ms: int, fields: dict[str, Any]) -> tuple[Sample | None, int]:
    """The sample, without what the contract refuses (a process with a negative size, a
    count past its column...): each such entry is dropped, and counted, not the sample."""
    dropped = 0
    while fields:
        try:
            return Sample.model_validate({"ts_ms": ts_ms, **fields}), dropped
        except ValidationError as error:
            places = {tuple(problem["loc"][:2]) for problem in error.errors()}
        # Later entries of a list first, so that the earlier ones keep their places.
        ordered = sorted(places, key=later_first)
        went = sum(drop(fields, where) for where in ordered)
        if not went:  # the time itself: nothing to keep
            break
        dropped += went
    return None, dropped


def later_first(where: tuple[int | str, ...]) -> tuple[str, int]:
    index = where[1] if len(where) > 1 and isinstance(where[1], int) else 0
    return str(where[0]), -index


def drop(fields: dict[str, Any], where: tuple[int | str, ...]) -> int:
    """Take out what a validation error points at: an entry of a list or of the custom
    series, else the whole field."""
    name = where[0]
    if not isinstance(name, str) or name not in fields:
        return 0
    value = fields[name]
    key = where[1] if len(where) > 1 else None
    in_list = isinstance(value, list) and isinstance(key, int) and key < len(value)
    in_custom = name == "custom" and isinstance(key, str) and key in value
    if not (in_list or in_custom):
        del fields[name]
        return 1
    del value[key]
    if not value:
        del fields[name]
    return 1


def rate_of(point: Point, base: CounterPoint | None) -> float | None:
    if point.delta:
        elapsed = point.time_ns - point.start_ns
        return point.value * 1e9 / elapsed if point.start_ns and elapsed > 0 else None
    if not point.cumulative:
        return None
    return CounterPoint(point.start_ns, point.time_ns, point.value).rate_since(base)


def unique_times(samples: list[Sample]) -> list[Sample]:
    """One sample per millisecond (the raw tier's key): the later collection wins."""
    by_time = {s.ts_ms: s for s in samples}
    return [by_time[t] for t in sorted(by_time)]
