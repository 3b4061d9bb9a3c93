"""A remote-write request as wire-contract batches: one host's series per batch, each series a
custom series named as Prometheus writes it (``name{label="value",...}``), read back by the
PromQL API with exactly its labels.

The host of a series is its ``host`` label (lower-cased, as every door keeps host names), else
its ``instance`` without the port: what a scrape of node_exporter carries. What cannot be
stored is counted, by why, and left out; what is outside the raw tier's window makes the whole
request a refusal (``outside``), so that nothing of it is half stored.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from hostpulse.core.contract import (
    CUSTOM_VALUE_MAX,
    HOSTNAME,
    MAX_CUSTOM_PER_SAMPLE,
    MAX_SAMPLES_PER_BATCH,
    MAX_SERIES_KEY_BYTES,
    SAFE_TEXT,
    Batch,
    HostFacts,
    Sample,
    canonical_host,
    fitted_text,
)
from hostpulse.core.ports import Metadata
from hostpulse.core.prometheus_names import exact_series_key
from hostpulse.services.ingest.numbering import agent_id, sequence
from hostpulse.services.ingest.remote_write.wire import (
    METRIC_TYPES,
    STALE_NAN_BITS,
    PlainSeries,
    TimeSeries,
    Undecodable,
    plain_series,
)

AGENT_VERSION = "remote_write"
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SAFE = re.compile(SAFE_TEXT)
HOST_NAME = re.compile(HOSTNAME)
PORT = re.compile(r":\d+$")
MAX_NAME = 256


@dataclass(frozen=True)
class HostRule:
    """Which label names a series' host: ``label``, else ``fallback``; without a port."""

    label: str = "host"
    fallback: str = "instance"

    def host_of(self, labels: dict[str, str]) -> str | None:
        named = labels.get(self.label) or (labels.get(self.fallback) if self.fallback else None)
        named = PORT.sub("", named) if named else named  # a host name holds no colon
        if not named or not HOST_NAME.match(named):
            return None
        return canonical_host(named)


@dataclass
class Converted:
    batches: list[Batch] = field(default_factory=list)
    metadata: dict[str, Metadata] = field(default_factory=dict)
    accepted: int = 0  # samples in the batches
    refused: Counter[str] = field(default_factory=Counter)  # samples left out, by why
    outside: int = 0  # samples older than the raw tier keeps, or too far ahead
    hosts: set[str] = field(default_factory=set)


def is_stale_marker(value: float) -> bool:
    return value != value and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS  # noqa: PLR0124 -- NaN


# A sender writes the same series request after request: what each one's labels make of it,
# by the labels' bytes, kept for this execution environment (and forgotten whole past a
# fleet's worth of series).
Made = tuple[str, str] | str
_KNOWN: dict[HostRule, dict[bytes, Made]] = {}
KNOWN_SERIES = 100_000  # tens of MB at most, in a function of 256 MB


def series_of(labels: bytes, rule: HostRule, known: dict[bytes, Made]) -> Made:
    """(host, series key), or why the series cannot be kept; ``known``: the rule's cache."""
    made = known.get(labels)
    if made is None:
        if len(known) >= KNOWN_SERIES:
            known.clear()
        pairs = tuple((label.name, label.value) for label in parsed(labels).labels)
        made = known[labels] = made_of(pairs, rule)
    return made


def made_of(labels: tuple[tuple[str, str], ...], rule: HostRule) -> Made:
    pairs = {}
    for name, value in labels:
        if name in pairs:
            return "invalid_labels"
        pairs[name] = value
    name = pairs.pop("__name__", "")
    if not METRIC_NAME.match(name):
        return "invalid_labels"
    kept = sorted((k, v) for k, v in pairs.items() if v)  # an empty label is no label
    if any(not LABEL_NAME.match(k) or not SAFE.match(v) for k, v in kept):
        return "invalid_labels"
    host = rule.host_of(pairs)
    if host is None:
        return "no_host"
    key = exact_series_key(name, kept)
    if len(key.encode()) > MAX_SERIES_KEY_BYTES:
        return "series_too_long"
    return host, key


def convert(
    request: Any, grant_name: str, rule: HostRule, window_ms: tuple[int, int], digest: bytes = b""
) -> Converted:
    """``request``: a ``RawWriteRequest``. ``digest``: of the request as sent; with the host,
    it numbers the host's batches."""
    earliest, latest = window_ms
    found = Converted()
    known = _KNOWN.setdefault(rule, {})
    # host -> time -> series -> value
    by_host: dict[str, dict[int, dict[str, float]]] = {}
    for raw in request.timeseries:
        series = read_series(raw)
        found.refused["exemplars"] += series.exemplars
        found.refused["native_histograms"] += series.histograms
        samples = series.samples
        if not samples:
            continue
        where = series_of(series.labels, rule, known)
        if isinstance(where, str):
            found.refused[where] += len(samples)
            continue
        host, key = where
        times = by_host.setdefault(host, {})
        for value, ts in samples:
            if not earliest <= ts <= latest:
                found.outside += 1
            elif not -CUSTOM_VALUE_MAX <= value <= CUSTOM_VALUE_MAX:  # NaN too
                if not is_stale_marker(value):
                    found.refused["not_storable"] += 1
            else:
                times.setdefault(ts, {})[key] = value
    found.metadata = metadata_of(request.metadata)
    found.hosts = set(by_host)
    for host, times in by_host.items():
        found.batches += host_batches(host, times, grant_name, found.refused, digest)
    found.accepted = sum(len(s.custom) for b in found.batches for s in b.samples)
    return found


def parsed(raw: bytes) -> Any:
    try:
        return TimeSeries.FromString(raw)
    except (DecodeError, RecursionError) as error:
        raise Undecodable(f"not a remote-write TimeSeries in protobuf: {error}") from None


def read_series(raw: bytes) -> PlainSeries:
    """A series read from its bytes; one in another shape than Prometheus writes, by the
    protobuf runtime."""
    plain = plain_series(raw)
    if plain is not None:
        return plain
    decoded = parsed(raw)
    labels = TimeSeries(labels=decoded.labels).SerializeToString()
    samples = [(s.value, s.timestamp) for s in decoded.samples]
    return PlainSeries(labels, samples, len(decoded.exemplars), len(decoded.histograms))


def metadata_of(entries: Iterable[Any]) -> dict[str, Metadata]:
    """Each family's type, help and unit, where its name is a metric name; text made safe."""
    found = {}
    for entry in entries:
        name = entry.metric_family_name
        if METRIC_NAME.match(name) and len(name) <= MAX_NAME:
            kind = METRIC_TYPES[entry.type] if 0 <= entry.type < len(METRIC_TYPES) else "unknown"
            found[name] = (kind, fitted_text(entry.help, 1024), fitted_text(entry.unit, 64))
    return found


def host_batches(
    host: str,
    times: dict[int, dict[str, float]],
    grant_name: str,
    refused: Counter[str],
    digest: bytes,
) -> list[Batch]:
    samples = []
    for ts in sorted(times):
        values = times[ts]
        if len(values) > MAX_CUSTOM_PER_SAMPLE:
            refused["over_sample_bound"] += len(values) - MAX_CUSTOM_PER_SAMPLE
            values = dict(list(values.items())[:MAX_CUSTOM_PER_SAMPLE])
        samples.append(Sample.model_construct(ts_ms=ts, custom=values))
    facts = HostFacts(hostname=host, agent_version=AGENT_VERSION)
    batches = []
    for first in range(0, len(samples), MAX_SAMPLES_PER_BATCH):
        chunk = samples[first : first + MAX_SAMPLES_PER_BATCH]
        # The same request sent again makes the same batches; another request other ones.
        content = b"%s\n%s\n%d" % (digest, host.encode(), first)
        batches.append(
            Batch(
                agent_id=agent_id(grant_name, host),
                seq=sequence(chunk[-1].ts_ms, content),
                host=facts,
                samples=chunk,
            )
        )
    return batches
