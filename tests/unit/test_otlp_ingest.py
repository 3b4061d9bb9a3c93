"""POST /v1/metrics with in-memory adapters: OTLP in protobuf and JSON, gzip, the host-metrics
conventions onto the sample, counters into rates, custom series, and every refusal in OTLP's
own shape."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from hostpulse.core.contract import Batch, metric_values
from hostpulse.services.ingest.http import route
from hostpulse.services.ingest.otlp.counters import CounterState, MemoryCounterStore
from hostpulse.services.ingest.otlp.route import ingest_otlp
from hostpulse.services.ingest.service import (
    IngestLimits,
    IngestRequest,
    IngestResponse,
)
from hostpulse.simulation.host import SyntheticHost
from tests.fakes import MemoryAgents, MemoryIngest
from tests.otlp_hostmetrics import GIB, CollectorHost, SampleEncoder, as_json, gauge, point, total

TOKEN = "hp_token-of-collector"
NOW_NS = time.time_ns()
BOOT_NS = NOW_NS - 3600 * 10**9
PROTOBUF = "application/x-protobuf"


class Rig(MemoryIngest):
    def __init__(self, hosts: tuple[str, ...] = ("web-*",)) -> None:
        super().__init__(
            MemoryAgents({TOKEN: "collector"}, {"collector": hosts}),
            IngestLimits(max_body_bytes=256 * 1024, max_decompressed_bytes=1024 * 1024),
        )

    def send(
        self,
        request: ExportMetricsServiceRequest,
        received_ns: int = NOW_NS,
        content_type: str = PROTOBUF,
        token: str | None = TOKEN,
        gzipped: bool = False,
    ) -> IngestResponse:
        body = as_json(request) if "json" in content_type else request.SerializeToString()
        return self.post(body, received_ns, content_type, token, gzipped)

    def post(
        self,
        body: bytes,
        received_ns: int = NOW_NS,
        content_type: str = PROTOBUF,
        token: str | None = TOKEN,
        gzipped: bool = False,
    ) -> IngestResponse:
        headers = {"content-type": content_type}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if gzipped:
            headers["content-encoding"] = "gzip"
            body = gzip.compress(body)
        received = IngestRequest(body=body, headers=headers, received_ms=received_ns // 10**6)
        return route("/v1/metrics", self.service)(received)


def answer_of(response: IngestResponse) -> ExportMetricsServiceResponse:
    assert response.status == 200, response.body
    parsed = ExportMetricsServiceResponse()
    parsed.ParseFromString(response.raw or b"")
    return parsed


def values(batch: Batch) -> dict[str, float]:
    return dict(metric_values(batch.samples[-1]))


def scrape_twice(rig: Rig, host: CollectorHost, **send: Any) -> list[IngestResponse]:
    first = rig.send(host.request(NOW_NS - 10 * 10**9), NOW_NS - 10 * 10**9, **send)
    second = rig.send(host.request(NOW_NS), NOW_NS, **send)
    return [first, second]


def test_the_collectors_host_metrics_become_a_hosts_sample_with_rates_from_its_counters() -> None:
    rig = Rig()
    host = CollectorHost("web-1", BOOT_NS)

    first, second = scrape_twice(rig, host)

    answer_of(first)
    assert answer_of(second).partial_success.rejected_data_points == 0
    latest = rig.batches()[-1]
    sample = latest.samples[-1]
    assert latest.host.hostname == "web-1"
    assert latest.host.agent_version == "otlp"
    assert latest.host.labels == {"deployment.environment": "prod"}
    assert latest.host.cpu_count == 2
    # 0.25 user + 0.05 system + 0.05 wait of each second busy, 0.65 idle.
    assert sample.cpu is not None
    assert sample.cpu.percent == pytest.approx(35.0, abs=0.05)
    assert sample.cpu.user == pytest.approx(25.0, abs=0.05)
    assert sample.cpu.iowait == pytest.approx(5.0, abs=0.05)
    assert sample.cpu.per_core == [pytest.approx(35.0, abs=0.05)] * 2
    assert sample.memory is not None
    assert sample.memory.total_bytes == 8 * GIB
    assert sample.memory.used_bytes == 3 * GIB
    assert sample.memory.available_bytes == 5 * GIB
    assert sample.memory.percent == 37.5
    assert sample.load is not None and sample.load.load1 == 0.75
    [disk] = sample.disks
    assert (disk.mount, disk.device, disk.fstype, disk.percent) == ("/", "/dev/sda1", "ext4", 40.0)
    [io] = sample.disk_io
    assert io.read_bytes_per_s == pytest.approx(1_000_000, rel=1e-3)
    assert io.write_bytes_per_s == pytest.approx(250_000, rel=1e-3)
    [nic] = sample.net
    assert nic.rx_bytes_per_s == pytest.approx(50_000, rel=1e-3)
    assert nic.tx_bytes_per_s == pytest.approx(20_000, rel=1e-3)
    assert sample.process_count == 123
    [process] = sample.processes
    assert (process.pid, process.name, process.user, process.threads) == (
        4242,
        "postgres",
        "postgres",
        9,
    )
    assert process.cpu_percent == pytest.approx(50.0, abs=0.1)
    assert process.rss_bytes == 512 * 1024 * 1024


def test_the_scrapers_own_timestamps_make_one_sample_per_collection() -> None:
    rig = Rig()
    scrape_twice(rig, CollectorHost("web-1", BOOT_NS))
    first, second = rig.batches()
    assert len(first.samples) == len(second.samples) == 1
    # the collection's newest point's time, in ms
    assert second.samples[0].ts_ms == (NOW_NS + 6 * 3_000_000) // 10**6


def test_a_first_scrape_has_no_rates_yet_but_everything_else() -> None:
    rig = Rig()
    rig.send(CollectorHost("web-1", BOOT_NS).request(NOW_NS))
    [batch] = rig.batches()
    sample = batch.samples[0]
    assert sample.cpu is None and sample.disk_io == [] and sample.net == []
    assert sample.memory is not None and sample.load is not None and sample.disks
    assert batch.host.cpu_count == 2  # named by its CPU metrics, before any rate


@pytest.mark.parametrize("content_type", ["application/json", PROTOBUF])
@pytest.mark.parametrize("gzipped", [False, True])
def test_json_and_protobuf_with_or_without_gzip_store_the_same(
    content_type: str, gzipped: bool
) -> None:
    rig, reference = Rig(), Rig()
    scrape_twice(rig, CollectorHost("web-1", BOOT_NS), content_type=content_type, gzipped=gzipped)
    scrape_twice(reference, CollectorHost("web-1", BOOT_NS))
    assert values(rig.batches()[-1]) == values(reference.batches()[-1])


def test_json_answers_are_json() -> None:
    response = Rig().send(
        CollectorHost("web-1", BOOT_NS).request(NOW_NS), content_type="application/json"
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.raw or b"") == {}


def test_a_request_sent_again_is_the_same_batch_with_the_same_rates() -> None:
    rig = Rig()
    host = CollectorHost("web-1", BOOT_NS)
    rig.send(host.request(NOW_NS - 10 * 10**9))
    again = host.request(NOW_NS)
    rig.send(again)
    rig.send(again)  # the exporter's retry after a lost answer
    keys = [key for _, key in rig.queue.messages]
    assert len(keys) == 3 and len(set(keys)) == 2  # the retry is the same batch
    messages = [body for body, key in rig.queue.messages if key == keys[-1]]
    assert len(set(messages)) == 1  # queued twice with the very same content: stored once


def test_two_requests_with_the_same_newest_time_are_two_batches() -> None:
    rig = Rig()
    rig.send(request_with(gauge("queue.depth", "1", [point(3.0, NOW_NS)])))
    rig.send(request_with(gauge("queue.depth", "1", [point(4.0, NOW_NS, queue="b")])))
    first, second = rig.batches()
    assert (first.agent_id, first.seq >> 20) == (second.agent_id, second.seq >> 20)
    assert first.seq != second.seq


def request_with(*metrics: Any, hostname: str = "web-1") -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="host.name").value.string_value = hostname
    resource.scope_metrics.add().metrics.extend(metrics)
    return request


def test_metrics_without_a_place_in_the_sample_are_custom_series() -> None:
    rig = Rig()
    request = request_with(
        gauge("queue.depth", "1", [point(17, NOW_NS, queue="mail")]),
        total("http.server.requests", "1", [point(1200, NOW_NS, BOOT_NS, method="GET", code=200)]),
        gauge("temperature", "Cel", [point(-4.5, NOW_NS)]),
    )
    answer_of(rig.send(request))
    [batch] = rig.batches()
    assert batch.samples[0].custom == {
        "queue.depth:queue=mail": 17.0,
        "http.server.requests:code=200,method=GET": 1200.0,
        "temperature": -4.5,
    }
    assert values(batch)["custom.queue.depth:queue=mail"] == 17.0


def test_histograms_keep_their_count_and_sum() -> None:
    metric = total("ignored", "1", [])
    metric.Clear()
    metric.name = "http.server.duration"
    histogram = metric.histogram.data_points.add(time_unix_nano=NOW_NS, count=10, sum=2.5)
    histogram.bucket_counts.extend([4, 6])
    histogram.explicit_bounds.append(0.1)
    rig = Rig()
    answer_of(rig.send(request_with(metric)))
    assert rig.batches()[0].samples[0].custom == {
        "http.server.duration.count": 10.0,
        "http.server.duration.sum": 2.5,
    }


def test_values_no_series_can_hold_are_counted_as_rejected_and_the_rest_kept() -> None:
    rig = Rig()
    request = request_with(
        gauge("fine", "1", [point(1.0, NOW_NS)]),
        gauge("huge", "1", [point(1e300, NOW_NS)]),
        gauge("nan", "1", [point(float("nan"), NOW_NS)]),
        gauge("x" * 300, "1", [point(1.0, NOW_NS)]),
        gauge("bad\u202ename", "1", [point(1.0, NOW_NS)]),
    )
    answer = answer_of(rig.send(request))
    assert answer.partial_success.rejected_data_points == 4
    assert "not kept" in answer.partial_success.error_message
    assert rig.batches()[0].samples[0].custom == {"fine": 1.0}


def test_custom_series_past_the_hosts_budget_are_rejected_and_counted() -> None:
    rig = Rig()
    rig.service.limits = IngestLimits(
        max_body_bytes=256 * 1024, max_decompressed_bytes=1024 * 1024, series_per_host=2
    )
    request = request_with(
        *[gauge("jobs", "1", [point(float(i), NOW_NS, job=f"id-{i}")]) for i in range(5)]
    )
    answer = answer_of(rig.send(request))
    assert answer.partial_success.rejected_data_points == 3
    assert "budget" in answer.partial_success.error_message
    assert rig.batches()[0].samples[0].custom == {"jobs:job=id-0": 0.0, "jobs:job=id-1": 1.0}
    assert rig.counters.counts["series_over_budget"] == 3


def test_points_outside_the_raw_tiers_window_are_rejected_the_others_kept() -> None:
    rig = Rig()
    old = NOW_NS - 2 * 86400 * 10**9
    request = request_with(gauge("a", "1", [point(1.0, old), point(2.0, NOW_NS, x="y")]))
    answer = answer_of(rig.send(request))
    assert answer.partial_success.rejected_data_points == 1
    [batch] = rig.batches()
    assert [s.ts_ms for s in batch.samples] == [NOW_NS // 10**6]


def test_resources_without_a_host_name_are_refused_with_what_to_set() -> None:
    rig = Rig()
    request = request_with(gauge("a", "1", [point(1.0, NOW_NS)]))
    del request.resource_metrics[0].resource.attributes[:]
    response = rig.send(request)
    assert response.status == 400
    status = Status()
    status.ParseFromString(response.raw or b"")
    assert status.code == 3 and "host.name" in status.message
    assert not rig.queue.messages


def test_some_resources_without_a_host_name_are_a_partial_success() -> None:
    rig = Rig()
    request = request_with(gauge("a", "1", [point(1.0, NOW_NS)]))
    request.resource_metrics.add().scope_metrics.add().metrics.append(
        gauge("b", "1", [point(1.0, NOW_NS), point(2.0, NOW_NS, k="v")])
    )
    answer = answer_of(rig.send(request))
    assert answer.partial_success.rejected_data_points == 2
    assert "host.name" in answer.partial_success.error_message
    assert len(rig.batches()) == 1


def test_an_empty_request_is_answered_and_stores_nothing() -> None:
    rig = Rig()
    assert (
        answer_of(rig.send(ExportMetricsServiceRequest())).partial_success.rejected_data_points == 0
    )
    assert not rig.queue.messages


def test_several_hosts_in_one_request_are_one_batch_each_numbered_on_their_own() -> None:
    rig = Rig()
    request = request_with(gauge("a", "1", [point(1.0, NOW_NS)]))
    request.resource_metrics.extend(
        request_with(gauge("a", "1", [point(2.0, NOW_NS)]), hostname="web-2").resource_metrics
    )
    answer_of(rig.send(request))
    batches = rig.batches()
    assert sorted(b.host.hostname for b in batches) == ["web-1", "web-2"]
    assert len({b.agent_id for b in batches}) == 2
    assert rig.limiter.calls == ["collector"]  # one request, one token's rate...
    assert rig.limiter.costs == [2], "...charged a batch per host"


def test_a_request_naming_more_hosts_than_the_rate_lets_through_at_once_is_refused() -> None:
    rig = Rig()
    request = request_with(gauge("a", "1", [point(1.0, NOW_NS)]))
    for n in range(2, 32):  # 31 hosts; the rate's burst (and so the bound) is 30
        request.resource_metrics.extend(
            request_with(
                gauge("a", "1", [point(1.0, NOW_NS)]), hostname=f"web-{n}"
            ).resource_metrics
        )

    response = rig.send(request)

    # Before, any number: 800 hosts queued 760 messages and delayed an unrelated alert 80 s.
    assert response.status == 413 and not rig.queue.messages
    decoded = Status()
    decoded.ParseFromString(response.raw or b"")
    assert "at most 30" in decoded.message


@pytest.mark.parametrize(
    ("token", "hostname", "status", "code"),
    [(None, "web-1", 401, 16), ("hp_unknown", "web-1", 401, 16), (TOKEN, "db-1", 403, 7)],
)
def test_credentials_are_those_of_wire_contract_v1(
    token: str | None, hostname: str, status: int, code: int
) -> None:
    rig = Rig()
    response = rig.send(
        request_with(gauge("a", "1", [point(1.0, NOW_NS)]), hostname=hostname), token=token
    )
    assert response.status == status
    decoded = Status()
    decoded.ParseFromString(response.raw or b"")
    assert decoded.code == code and decoded.message
    assert not rig.queue.messages


def test_one_host_the_token_may_not_write_refuses_the_whole_request() -> None:
    rig = Rig()
    request = request_with(gauge("a", "1", [point(1.0, NOW_NS)]))
    request.resource_metrics.extend(
        request_with(gauge("a", "1", [point(1.0, NOW_NS)]), hostname="db-1").resource_metrics
    )
    assert rig.send(request).status == 403
    assert not rig.queue.messages


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"\xff\xff\xff", PROTOBUF, 400),
        (b"{not json", "application/json", 400),
        (b'{"resourceMetrics": 5}', "application/json", 400),
        (b"{}", "text/plain", 415),
    ],
)
def test_undecodable_bodies_are_refused_in_otlp_shape(
    body: bytes, content_type: str, status: int
) -> None:
    rig = Rig()
    response = rig.post(body, content_type=content_type)
    assert response.status == status
    assert response.raw
    assert not rig.queue.messages


def test_a_rate_limited_sender_gets_retry_after_and_nothing_is_stored() -> None:
    rig = Rig()
    rig.limiter.wait_s = 3
    response = rig.send(request_with(gauge("a", "1", [point(1.0, NOW_NS)])))
    assert response.status == 429
    assert response.headers["Retry-After"] == "3"
    assert not rig.queue.messages


def test_queue_down_is_a_503_and_the_counters_are_not_moved_on() -> None:
    rig = Rig()
    host = CollectorHost("web-1", BOOT_NS)
    rig.send(host.request(NOW_NS - 10 * 10**9))
    before = rig.counter_store.load("web-1")
    rig.queue.down = True
    response = rig.send(host.request(NOW_NS))
    assert response.status == 503 and response.headers["Retry-After"] == "5"
    assert rig.counter_store.load("web-1") == before
    rig.queue.down = False
    answer_of(rig.send(host.request(NOW_NS)))  # the exporter's retry gets its rates
    assert rig.batches()[-1].samples[-1].cpu is not None


def test_a_counter_reset_gives_no_rate_rather_than_a_wrong_one() -> None:
    rig = Rig()
    host = CollectorHost("web-1", BOOT_NS)
    rig.send(host.request(NOW_NS - 10 * 10**9))
    rebooted = CollectorHost("web-1", NOW_NS - 5 * 10**9)  # a reboot: new start, smaller totals
    rig.send(rebooted.request(NOW_NS))
    assert rig.batches()[-1].samples[-1].cpu is None


def test_without_the_counter_store_rates_wait_for_it_and_nothing_else_does() -> None:
    class Away(MemoryCounterStore):
        def load(self, host: str) -> dict[str, CounterState]:
            raise ConnectionError("redis away")

    rig = Rig()
    rig.service.counter_store = Away()
    scrape_twice(rig, CollectorHost("web-1", BOOT_NS))
    sample = rig.batches()[-1].samples[-1]
    assert sample.cpu is None and sample.memory is not None
    assert rig.counters.counts["otlp_counter_failures"] == 1


def test_the_pipeline_meter_counts_otlp_samples() -> None:
    rig = Rig()
    response = ingest_otlp(rig.service, IngestRequest(
        body=request_with(gauge("a", "1", [point(1.0, NOW_NS)])).SerializeToString(),
        headers={"content-type": PROTOBUF, "authorization": f"Bearer {TOKEN}"},
        received_ms=NOW_NS // 10**6,
    ))  # fmt: skip
    assert response.samples == 1


def test_a_hosts_samples_sent_over_otlp_come_back_as_the_same_figures() -> None:
    """hostpulse's own samples, exported as the Collector would export the same figures, read
    back through /v1/metrics: what a host page shows is the same either way."""
    rig = Rig()
    synthetic = SyntheticHost("web-9", cores=4, processes=5)
    encoder = SampleEncoder(BOOT_NS)
    start_ms = NOW_NS // 10**6 - 60_000
    sent = [
        synthetic.batch([start_ms + 10_000 * i, start_ms + 10_000 * i + 5_000]) for i in range(3)
    ]
    for batch in sent:
        answer_of(rig.send(encoder.request(batch)))
    received = [s for b in rig.batches() for s in b.samples]
    originals = [s for b in sent for s in b.samples]
    assert [s.ts_ms for s in received] == [s.ts_ms for s in originals]
    for got, want in zip(received[1:], originals[1:], strict=True):  # the first has no rates
        assert got.cpu is not None and want.cpu is not None
        assert got.cpu.per_core == pytest.approx(want.cpu.per_core, abs=0.01)
        assert got.memory is not None and want.memory is not None
        assert got.memory.used_bytes == want.memory.used_bytes
        assert got.memory.percent == pytest.approx(want.memory.percent, abs=0.01)
        assert got.load == want.load
        assert [d.mount for d in got.disks] == [d.mount for d in want.disks]
        assert got.disks[0].percent == pytest.approx(want.disks[0].percent, abs=0.01)
        assert got.disk_io[0].read_bytes_per_s == pytest.approx(
            want.disk_io[0].read_bytes_per_s, rel=1e-3
        )
        assert got.disk_io[0].write_ops_per_s == pytest.approx(
            want.disk_io[0].write_ops_per_s, abs=0.01
        )
        assert got.net[0].rx_bytes_per_s == pytest.approx(want.net[0].rx_bytes_per_s, rel=1e-3)
        assert (got.uptime_s, got.process_count) == (want.uptime_s, want.process_count)
        got_processes = {p.pid: (p.name, p.rss_bytes, p.threads) for p in got.processes}
        assert got_processes == {p.pid: (p.name, p.rss_bytes, p.threads) for p in want.processes}
        for process in got.processes:
            wanted = next(p for p in want.processes if p.pid == process.pid)
            assert process.cpu_percent == pytest.approx(wanted.cpu_percent, abs=0.05)
