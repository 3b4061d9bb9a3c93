"""POST /api/v1/write with in-memory adapters: Prometheus remote-write 1.0 into a batch per
host, the host of each series, the token's hosts, every refusal and what it stores (nothing,
or everything but what it names)."""

from __future__ import annotations

import struct
import time
from typing import Any

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostpulse.core.prometheus_names import prometheus_series
from hostpulse.services.ingest.http import route
from hostpulse.services.ingest.remote_write.wire import (
    RawWriteRequest,
    TimeSeries,
    WriteRequest,
    encode,
    plain_series,
)
from hostpulse.services.ingest.service import (
    IngestLimits,
    IngestRequest,
    IngestResponse,
)
from tests.fakes import MemoryAgents, MemoryIngest

TOKEN = "hp_token-of-prometheus"
NOW_MS = int(time.time() * 1000)
STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
Series = tuple[dict[str, str], list[tuple[int, float]]]


class Rig(MemoryIngest):
    def __init__(self, hosts: tuple[str, ...] = ("web-*",)) -> None:
        super().__init__(
            MemoryAgents({TOKEN: "prometheus"}, {"prometheus": hosts}),
            IngestLimits(max_body_bytes=256 * 1024, max_decompressed_bytes=1024 * 1024),
        )

    def post(self, body: bytes, token: str | None = TOKEN, **headers: str) -> IngestResponse:
        sent = {
            "content-type": "application/x-protobuf",
            "content-encoding": "snappy",
            "x-prometheus-remote-write-version": "0.1.0",
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        received = IngestRequest(body=body, headers=sent, received_ms=NOW_MS)
        return route("/api/v1/write", self.service)(received)

    def write(self, *series: Series, **headers: str) -> IngestResponse:
        return self.post(encode(request_of(*series)), **headers)

    def stored(self) -> dict[tuple[str, str], dict[int, float]]:
        """(host, series) -> time -> value, as aggregation would store them."""
        found: dict[tuple[str, str], dict[int, float]] = {}
        for batch in self.batches():
            for sample in batch.samples:
                for key, value in sample.custom.items():
                    found.setdefault((batch.host.hostname, key), {})[sample.ts_ms] = value
        return found


def request_of(*series: Series) -> Any:
    written = WriteRequest()
    for labels, points in series:
        one = written.timeseries.add()
        for name, text in sorted(labels.items()):
            one.labels.add(name=name, value=text)
        for ts, value in points:
            one.samples.add(timestamp=ts, value=value)
    return written


def node(name: str, instance: str = "web-1:9100", **labels: str) -> dict[str, str]:
    return {"__name__": name, "instance": instance, "job": "node", **labels}


def test_a_write_is_stored_per_host_with_exactly_its_labels() -> None:
    rig = Rig()
    answer = rig.write(
        (node("node_load1"), [(NOW_MS - 15_000, 0.5), (NOW_MS, 0.75)]),
        (node("node_cpu_seconds_total", cpu="0", mode="idle"), [(NOW_MS, 1234.5)]),
        (node("node_load1", instance="web-2:9100"), [(NOW_MS, 2.0)]),
        (node("up", instance="db-1", host="Web-3"), [(NOW_MS, 1.0)]),  # host label first
    )
    assert answer.status == 204, answer.raw
    assert answer.raw == b""
    stored = rig.stored()
    assert stored == {
        ("web-1", 'node_load1{instance="web-1:9100",job="node"}'): {
            NOW_MS - 15_000: 0.5,
            NOW_MS: 0.75,
        },
        ("web-1", 'node_cpu_seconds_total{cpu="0",instance="web-1:9100",job="node",mode="idle"}'): {
            NOW_MS: 1234.5
        },
        ("web-2", 'node_load1{instance="web-2:9100",job="node"}'): {NOW_MS: 2.0},
        ("web-3", 'up{host="Web-3",instance="db-1",job="node"}'): {NOW_MS: 1.0},
    }
    named = prometheus_series('custom.up{host="Web-3",instance="db-1",job="node"}')
    assert named is not None and named.exact
    assert named.labels == {"host": "Web-3", "instance": "db-1", "job": "node"}
    # each host its own batches, numbered on their own; the hot tier sees the host, not the series
    assert len({b.agent_id for b in rig.batches()}) == 3
    assert all(not s.custom for b in rig.hot.batches for s in b.samples)
    assert sorted(rig.limiter.calls) == sorted(b.agent_id for b in rig.batches())


def test_the_same_request_sent_again_is_the_same_batches_and_another_is_not() -> None:
    rig = Rig()
    body = encode(request_of((node("node_load1"), [(NOW_MS, 0.5)])))
    assert rig.post(body).status == 204
    assert rig.post(body).status == 204
    keys = [key for _, key in rig.queue.messages]
    assert len(set(keys)) == 1  # the same dedup key: stored once
    rig.write((node("node_load1"), [(NOW_MS, 0.6)]))
    assert len({key for _, key in rig.queue.messages}) == 2


def test_a_token_that_may_not_write_a_host_stores_nothing_of_the_request() -> None:
    rig = Rig(hosts=("web-1",))
    answer = rig.write(
        (node("node_load1"), [(NOW_MS, 0.5)]),
        (node("node_load1", instance="db-1:9100"), [(NOW_MS, 0.5)]),
    )
    assert answer.status == 403
    assert b"db-1" in (answer.raw or b"")
    assert not rig.queue.messages and not rig.hot.batches


@pytest.mark.parametrize("offset_ms", [-25 * 3600 * 1000, 3600 * 1000])
def test_a_sample_outside_the_raw_window_refuses_the_whole_request(offset_ms: int) -> None:
    rig = Rig()
    answer = rig.write((node("node_load1"), [(NOW_MS, 0.5), (NOW_MS + offset_ms, 0.6)]))
    assert answer.status == 400
    assert b"nothing of this request was stored" in (answer.raw or b"")
    assert not rig.queue.messages
    assert rig.counters.counts["remote_write_out_of_bounds"] == 1


def test_what_cannot_be_stored_is_named_and_the_rest_is_stored() -> None:
    rig = Rig()
    answer = rig.write(
        (node("node_load1"), [(NOW_MS, 0.5)]),
        (
            node("node_load5"),
            [(NOW_MS, float("nan")), (NOW_MS + 1, float("inf")), (NOW_MS + 2, 1e101)],
        ),
        ({"__name__": "up", "job": "node"}, [(NOW_MS, 1.0)]),  # no host
        ({"__name__": "1bad", "instance": "web-1"}, [(NOW_MS, 1.0)]),
        (node("node_x", **{"bad-label": "x"}), [(NOW_MS, 1.0)]),
        (node("node_x", value="a\x01b"), [(NOW_MS, 1.0)]),
        (node("node_x", long="x" * 1100), [(NOW_MS, 1.0)]),
    )
    assert answer.status == 400
    text = (answer.raw or b"").decode()
    assert text.startswith("1 samples stored, 8 not:"), text
    assert "3 with a value that is not a finite number" in text
    assert "1 with no host" in text
    assert "3 with a metric or label name" in text
    assert "1 with a series whose name and labels exceed 1024 bytes" in text
    assert list(rig.stored()) == [("web-1", 'node_load1{instance="web-1:9100",job="node"}')]
    assert rig.counters.counts["remote_write_not_storable"] == 3


def test_stale_markers_exemplars_and_histograms_are_left_out_without_a_refusal() -> None:
    rig = Rig()
    written = request_of((node("node_load1"), [(NOW_MS - 15_000, 0.5), (NOW_MS, STALE)]))
    written.timeseries[0].exemplars.add(value=1.0, timestamp=NOW_MS)
    written.timeseries[0].histograms.add()
    answer = rig.post(encode(written))
    assert answer.status == 204, answer.raw
    assert list(rig.stored().values()) == [{NOW_MS - 15_000: 0.5}]
    assert rig.counters.counts["remote_write_exemplars"] == 1
    assert rig.counters.counts["remote_write_native_histograms"] == 1


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"\x05not snappy", {}, 400),
        (bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff")), {}, 400),
        (b"\xff\xff\xff\xff\x7f", {}, 413),  # says it inflates to 34 GB: refused unread
        (b"", {"content_type": "application/json"}, 415),
        (b"", {"content_encoding": "gzip"}, 415),
    ],
)
def test_a_body_that_is_not_remote_write_is_refused_with_why(
    body: bytes, headers: dict[str, str], status: int
) -> None:
    rig = Rig()
    answer = rig.post(body, **headers)
    assert answer.status == status, answer.raw
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert (answer.raw or b"").strip()
    assert not rig.queue.messages


def test_an_unknown_token_is_401_and_a_full_queue_is_503_with_retry_after() -> None:
    rig = Rig()
    assert rig.write((node("node_load1"), [(NOW_MS, 0.5)]), token="hp_wrong").status == 401
    assert rig.post(b"", token=None).status == 401
    rig.queue.down = True
    down = rig.write((node("node_load1"), [(NOW_MS, 0.5)]))
    assert down.status == 503 and down.headers["Retry-After"]
    rig.queue.down = False
    rig.limiter.wait_s = 3
    limited = rig.write((node("node_load1"), [(NOW_MS, 0.5)]))
    assert limited.status == 429 and limited.headers["Retry-After"] == "3"
    assert not rig.queue.messages


labels_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Cf"]), max_size=20
)


@settings(max_examples=150)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
            lambda k: k not in ("instance", "host")
        ),
        labels_text,
        max_size=5,
    ),
    st.floats(-1e100, 1e100),
)
def test_any_series_reads_back_with_exactly_its_labels(
    labels: dict[str, str], value: float
) -> None:
    rig = Rig()
    sent = node("metric_x", **labels)
    answer = rig.write((sent, [(NOW_MS, value)]))
    assert answer.status == 204, answer.raw
    ((host, key), points) = next(iter(rig.stored().items()))
    assert host == "web-1" and points == {NOW_MS: value}
    named = prometheus_series(f"custom.{key}")
    assert named is not None and named.name == "metric_x"
    assert named.labels == {k: v for k, v in sent.items() if k != "__name__" and v}


def test_series_past_the_hosts_budget_are_refused_with_a_count_and_the_rest_stored() -> None:
    rig = Rig()
    rig.service.limits = IngestLimits(series_per_host=3)
    first = rig.write(*[(node(f"m_{i}"), [(NOW_MS - 15_000, 1.0)]) for i in range(2)])
    assert first.status == 204
    answer = rig.write(*[(node(f"m_{i}"), [(NOW_MS, 2.0)]) for i in range(5)])
    assert answer.status == 400
    text = (answer.raw or b"").decode()
    assert text.startswith("3 samples stored, 2 not: 2 with a new series past its host's budget")
    assert "(3)" in text
    assert sorted(k for _, k in rig.stored()) == [
        f'm_{i}{{instance="web-1:9100",job="node"}}' for i in range(3)
    ]
    assert rig.counters.counts["series_over_budget"] == 2
    # another host has a budget of its own
    assert rig.write((node("m_9", instance="web-2:9100"), [(NOW_MS, 1.0)])).status == 204


def test_a_token_may_name_the_label_that_holds_a_series_host() -> None:
    rig = Rig(hosts=("db-*",))
    rig.agents.host_labels["prometheus"] = "node"
    answer = rig.write(
        (node("node_load1", node="db-1"), [(NOW_MS, 0.5)]),
        (node("node_load5", node="DB-2:9100"), [(NOW_MS, 0.5)]),  # a port goes, case folds
        (node("node_load15"), [(NOW_MS, 0.5)]),  # no such label: no host (instance is not asked)
    )
    assert answer.status == 400
    assert "1 with no host" in (answer.raw or b"").decode()
    assert sorted(h for h, _ in rig.stored()) == ["db-1", "db-2"]


def test_metadata_is_kept_for_the_metadata_api_and_bad_names_are_not() -> None:
    rig = Rig()
    written = WriteRequest()
    written.metadata.add(
        type=1, metric_family_name="node_cpu_seconds_total", help="Seconds the CPUs spent.", unit=""
    )
    written.metadata.add(type=2, metric_family_name="node_load1", help="1m load\x00average.")
    written.metadata.add(type=99, metric_family_name="odd_kind")
    written.metadata.add(type=2, metric_family_name="1 not a name")
    answer = rig.post(encode(written))  # metadata alone, as Prometheus sends it every minute
    assert answer.status == 204, answer.raw
    assert rig.metadata.entries == {
        "node_cpu_seconds_total": ("counter", "Seconds the CPUs spent.", ""),
        "node_load1": ("gauge", "1m load\ufffdaverage.", ""),
        "odd_kind": ("unknown", "", ""),
    }
    assert not rig.queue.messages


label_pairs = st.lists(
    st.tuples(st.text(max_size=12), st.text(max_size=30)), max_size=6
)  # any text: the reader must read what the runtime reads, valid names or not
wire_samples = st.lists(
    st.tuples(st.floats(allow_nan=True), st.integers(-(2**63), 2**63 - 1)), max_size=4
)


@settings(max_examples=300)
@given(label_pairs, wire_samples, st.integers(0, 2), st.integers(0, 2))
def test_a_series_read_from_its_bytes_is_what_the_protobuf_runtime_reads(
    labels: list[tuple[str, str]],
    samples: list[tuple[float, int]],
    exemplars: int,
    histograms: int,
) -> None:
    written = WriteRequest()
    series = written.timeseries.add()
    for name, text in labels:
        series.labels.add(name=name, value=text)
    for value, ts in samples:
        series.samples.add(value=value, timestamp=ts)
    for _ in range(exemplars):
        series.exemplars.add(value=1.0)
    for _ in range(histograms):
        series.histograms.add()
    raw = series.SerializeToString()
    plain = plain_series(raw)
    assert plain is not None
    assert TimeSeries.FromString(plain.labels).labels == series.labels
    read = [(struct.pack("<d", v), t) for v, t in plain.samples]
    assert read == [(struct.pack("<d", s.value), s.timestamp) for s in series.samples]
    assert (plain.exemplars, plain.histograms) == (exemplars, histograms)


def test_a_series_in_another_order_is_read_by_the_runtime_and_garbage_is_a_400() -> None:
    rig = Rig()
    labels = b"".join(
        TimeSeries(labels=[{"name": k, "value": v}]).SerializeToString()
        for k, v in sorted(node("node_load1").items())
    )
    sample = TimeSeries(samples=[{"value": 0.25, "timestamp": NOW_MS}]).SerializeToString()
    assert plain_series(sample + labels) is None  # samples first: not the plain shape
    body = RawWriteRequest(timeseries=[sample + labels]).SerializeToString()
    answer = rig.post(bytes(cramjam.snappy.compress_raw(body)))
    assert answer.status == 204, answer.raw
    assert list(rig.stored().values()) == [{NOW_MS: 0.25}]
    broken = RawWriteRequest(timeseries=[b"\x12\x05\x09\x01"]).SerializeToString()
    refused = rig.post(bytes(cramjam.snappy.compress_raw(broken)))
    assert refused.status == 400, refused.raw
    assert b"TimeSeries" in (refused.raw or b"")
