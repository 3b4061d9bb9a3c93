"""OpenTelemetry metrics into the local cloud through API Gateway and the real ingest function:
the OpenTelemetry Python SDK with its OTLP/HTTP exporter as the client, and requests shaped as
the Collector's host-metrics receiver sends them."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable
from typing import Any

import pytest
import requests
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.agents.tokens import register_agent
from tests.otlp_hostmetrics import CollectorHost, as_json, gauge, point
from tests.support import CloudUnderTest, eventually

pytestmark = pytest.mark.localcloud

NET_RX_PER_S = 40_000.0


def agent(cloud: CloudUnderTest, hosts: str) -> tuple[str, str]:
    name = f"otel-{time.time_ns() % 10**8}"
    repository = PgAgentRepository(PgConnector(cloud.endpoints["database_url"]))
    return name, register_agent(repository, name, [hosts])


def latest(cloud: CloudUnderTest, host: str, wanted: str) -> dict[str, Any] | None:
    api = cloud.endpoints["local_api_url"]
    response = requests.get(f"{api}/api/v1/hosts/{host}/latest", timeout=10)
    if response.status_code != 200:
        return None
    sample: dict[str, Any] = response.json()["sample"]
    return sample if sample.get(wanted) else None


def stored_series(cloud: CloudUnderTest, host: str, metric: str) -> list[list[float]] | None:
    api = cloud.endpoints["local_api_url"]
    response = requests.get(
        f"{api}/api/v1/series",
        params={"host": host, "metric": metric, "from": "-10m", "tier": "raw"},
        timeout=10,
    )
    if response.status_code != 200:  # 404 until the host's first batch is stored
        return None
    points = [p for line in response.json()["series"] for p in line["points"]]
    return points or None


def test_the_opentelemetry_sdk_reports_a_host_and_custom_series_through_otlp_http(
    local_cloud: CloudUnderTest,
) -> None:
    _, token = agent(local_cloud, "otel-sdk-*")
    host = f"otel-sdk-{time.time_ns() % 10**6}"
    started = time.time()

    def cpu(options: CallbackOptions) -> Iterable[Observation]:
        for core in range(2):
            yield Observation(0.3, {"cpu": core, "state": "user"})
            yield Observation(0.1, {"cpu": core, "state": "system"})
            yield Observation(0.6, {"cpu": core, "state": "idle"})

    def memory(options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(6 * 2**30, {"state": "used"})
        yield Observation(2 * 2**30, {"state": "free"})

    def network(options: CallbackOptions) -> Iterable[Observation]:
        received = int(NET_RX_PER_S * (time.time() - started)) + 10**9
        yield Observation(received, {"device": "eth0", "direction": "receive"})
        yield Observation(10**6, {"device": "eth0", "direction": "transmit"})

    exporter = OTLPMetricExporter(
        endpoint=f"{local_cloud.endpoints['api_url']}/v1/metrics",
        headers={"Authorization": f"Bearer {token}"},
        compression=Compression.Gzip,
        timeout=30,
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=1000)
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"host.name": host, "deployment.environment": "e2e"}),
    )
    meter = provider.get_meter("e2e")
    meter.create_observable_gauge("system.cpu.utilization", [cpu], unit="1")
    meter.create_observable_up_down_counter("system.memory.usage", [memory], unit="By")
    meter.create_observable_counter("system.network.io", [network], unit="By")
    orders = meter.create_counter("orders.placed")
    try:
        for _ in range(4):
            orders.add(5, {"shop": "eu"})
            time.sleep(1.2)

        sample = eventually(lambda: latest(local_cloud, host, "net"), timeout=60)
        orders_stored = eventually(
            lambda: stored_series(local_cloud, host, "custom.orders.placed:shop=eu"), timeout=60
        )
    finally:
        provider.shutdown()

    assert sample["cpu"]["percent"] == pytest.approx(40.0)
    assert sample["cpu"]["per_core"] == [pytest.approx(40.0)] * 2
    assert sample["memory"]["percent"] == pytest.approx(75.0)
    [nic] = sample["net"]
    assert nic["interface"] == "eth0"
    assert nic["rx_bytes_per_s"] == pytest.approx(NET_RX_PER_S, rel=0.15)
    assert max(p[1] for p in orders_stored) >= 5  # a cumulative counter, kept as it counts
    hosts = requests.get(f"{local_cloud.endpoints['local_api_url']}/api/v1/hosts", timeout=10)
    [entry] = [h for h in hosts.json()["hosts"] if h["host"] == host]
    assert entry["facts"]["agent_version"].startswith("otlp python")
    assert entry["facts"]["labels"]["deployment.environment"] == "e2e"
    assert entry["completeness"] is None  # OTLP numbers nothing: no gaps to count


def test_the_collectors_host_metrics_in_json_are_stored_once_however_often_sent(
    local_cloud: CloudUnderTest,
) -> None:
    _, token = agent(local_cloud, "otel-col-*")
    collector = CollectorHost(f"otel-col-{time.time_ns() % 10**6}", time.time_ns() - 3600 * 10**9)
    url = f"{local_cloud.endpoints['api_url']}/v1/metrics"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    now = time.time_ns()
    bodies = [gzip.compress(as_json(collector.request(now - s * 10**9))) for s in (20, 10, 0)]
    for body in [*bodies, bodies[-1], bodies[-1]]:  # the newest sent three times
        response = requests.post(url, data=body, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        assert response.json() == {}

    sample = eventually(lambda: latest(local_cloud, collector.hostname, "disk_io"), timeout=60)
    assert sample["cpu"]["percent"] == pytest.approx(35.0, abs=0.1)
    assert sample["processes"][0]["name"] == "postgres"

    def all_three() -> list[list[float]] | None:
        points = stored_series(local_cloud, collector.hostname, "mem.percent")
        return points if points and len(points) >= 3 else None

    stored = eventually(all_three, timeout=60)
    assert len(stored) == 3  # three collections, however many times the last was sent
    with PgConnector(local_cloud.endpoints["database_url"]).transaction() as cur:
        cur.execute("SELECT count(*) FROM batches WHERE host = %s", (collector.hostname,))
        assert cur.fetchone() == (3,)


def test_protobuf_answers_pass_api_gateway_as_protobuf(local_cloud: CloudUnderTest) -> None:
    _, token = agent(local_cloud, "otel-pb-*")
    url = f"{local_cloud.endpoints['api_url']}/v1/metrics"
    request = CollectorHost(f"otel-pb-{time.time_ns() % 10**6}", time.time_ns()).request(
        time.time_ns()
    )
    request.resource_metrics[0].scope_metrics[0].metrics.append(
        gauge("broken", "1", [point(float("nan"), time.time_ns())])
    )
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"}

    partial = requests.post(url, data=request.SerializeToString(), headers=headers, timeout=60)
    refused = requests.post(
        url,
        data=b"\x0a\x02\xff",
        headers={**headers, "Authorization": "Bearer hp_nobody"},
        timeout=60,
    )

    assert partial.status_code == 200
    answer = ExportMetricsServiceResponse()
    answer.ParseFromString(partial.content)
    assert answer.partial_success.rejected_data_points == 1
    assert refused.status_code == 401
    assert refused.headers["Content-Type"] == "application/x-protobuf"
    status = Status()
    status.ParseFromString(refused.content)
    assert status.code == 16 and status.message == "unknown or revoked agent token"
