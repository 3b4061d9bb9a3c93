"""Prometheus writes to hostpulse: Debian's Prometheus scrapes Debian's node_exporter every 5 s,
keeps its own TSDB and remote-writes the same samples through API Gateway on the local cloud;
node_exporter queries then answer the same from both."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.prometheus_names import exact_series_key
from hostpulse.services.ingest.remote_write.wire import WriteRequest, encode
from tests.prometheus_oracle import (
    PrometheusServer,
    compare,
    node_exporter_running,
    prometheus_running,
)
from tests.support import CloudUnderTest, eventually, registered_agent

pytestmark = [pytest.mark.localcloud, pytest.mark.slow]
SCRAPE_S = 5
SCRAPING_S = 80  # enough scrapes for every [1m] window below


def write_url(cloud: CloudUnderTest) -> str:
    return f"{cloud.endpoints['api_url']}/api/v1/write"


def scrape_config(node: str, host: str, writes: list[tuple[str, str | None]]) -> str:
    """A Prometheus scraping node_exporter every 5 s and writing to each (url, token)."""
    remote = ""
    for url, token in writes:
        remote += f'  - url: "{url}"\n'
        if token:
            remote += f'    authorization: {{credentials: "{token}"}}\n'
        remote += (
            "    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 2s,"
            " retry_on_http_429: true}\n"
            "    metadata_config: {send_interval: 5s}\n"
        )
    return f"""
global:
  scrape_interval: {SCRAPE_S}s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["{node}"]
        labels: {{host: "{host}"}}
remote_write:
{remote}"""


class Hostpulse(PrometheusServer):
    """hostpulse's Prometheus API, asked as Prometheus is."""


@pytest.fixture(scope="module")
def scraped(local_cloud: CloudUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Prometheus that scraped node_exporter for a while and wrote it all to hostpulse: the
    two servers, the host, and the instant where both hold the same samples."""
    workdir: Path = tmp_path_factory.mktemp("remote-write")
    host, token = registered_agent(local_cloud, "rw")
    ours = Hostpulse(f"{local_cloud.endpoints['local_api_url']}/prometheus")
    with (
        node_exporter_running(workdir) as node,
        prometheus_running(
            workdir,
            scrape_config(node, host, [(write_url(local_cloud), token)]),
            workdir / "tsdb",
        ) as theirs,
    ):
        time.sleep(SCRAPING_S)
        at_s = time.time() - SCRAPE_S
        counted = f'count_over_time(up{{host="{host}"}}[10m])'

        def caught_up() -> bool:
            mine = ours.instant(counted, at_s)["data"]["result"]
            wanted = theirs.instant(counted, at_s)["data"]["result"]
            return bool(mine) and mine[0]["value"] == wanted[0]["value"]

        eventually(caught_up, timeout=90, interval=2)
        yield theirs, ours, host, at_s


def node_queries(host: str) -> list[str]:
    h = f'host="{host}"'
    return [
        f"up{{{h}}}",
        f"scrape_samples_scraped{{{h}}}",
        f"node_load1{{{h}}}",
        f"node_load15{{{h}}} > bool 0",
        f"sum by (mode) (rate(node_cpu_seconds_total{{{h}}}[1m]))",
        f'100 - avg by (instance) (rate(node_cpu_seconds_total{{{h},mode="idle"}}[1m])) * 100',
        f'irate(node_cpu_seconds_total{{{h},mode="user"}}[1m])',
        f"increase(node_network_receive_bytes_total{{{h}}}[1m])",
        f"topk(3, rate(node_network_transmit_bytes_total{{{h}}}[1m]))",
        f"rate(node_context_switches_total{{{h}}}[1m])",
        f"count(count by (cpu) (node_cpu_seconds_total{{{h}}}))",
        f"node_memory_MemAvailable_bytes{{{h}}} / node_memory_MemTotal_bytes{{{h}}}",
        f"sum(node_memory_MemTotal_bytes{{{h}}} - node_memory_MemAvailable_bytes{{{h}}})",
        f"deriv(node_memory_MemFree_bytes{{{h}}}[1m])",
        f'1 - node_filesystem_avail_bytes{{{h},fstype!~"tmpfs|overlay"}}'
        f' / node_filesystem_size_bytes{{{h},fstype!~"tmpfs|overlay"}}',
        f"predict_linear(node_filesystem_free_bytes{{{h}}}[1m], 3600)",
        f"rate(node_disk_read_bytes_total{{{h}}}[1m])",
        f"rate(node_disk_io_time_seconds_total{{{h}}}[1m])",
        f"node_time_seconds{{{h}}} - node_boot_time_seconds{{{h}}}",
        f"node_uname_info{{{h}}}",
        f"node_load1{{{h}}} * on (instance) group_left (nodename, release) node_uname_info{{{h}}}",
        f"max_over_time(node_load1{{{h}}}[1m])",
        f"avg_over_time(node_load5{{{h}}}[1m])",
        f"changes(node_boot_time_seconds{{{h}}}[1m])",
        f'{{__name__=~"node_network_(receive|transmit)_bytes_total",{h}}}',
        f'count by (__name__) ({{{h},__name__=~"node_(load|memory_Mem).*"}})',
    ]


def test_node_exporter_queries_answer_the_same_from_prometheus_and_hostpulse(scraped: Any) -> None:
    theirs, ours, host, at_s = scraped
    problems = []
    for query in node_queries(host):
        expected = theirs.instant(query, at_s)
        assert expected["status"] == "success" and expected["data"]["result"], query
        problems += compare(expected, ours.instant(query, at_s), query)
        span = (at_s - 60, at_s, SCRAPE_S)
        problems += compare(theirs.range(query, *span), ours.range(query, *span), query)
    assert not problems, "\n".join(problems[:20])


def test_the_series_and_label_values_are_prometheus_own(scraped: Any) -> None:
    theirs, ours, host, at_s = scraped
    span = {"start": at_s - 60, "end": at_s}
    match = {"match[]": f'{{host="{host}"}}', **span}
    names_theirs = theirs.get("/api/v1/label/__name__/values", **match)["data"]
    names_ours = ours.get("/api/v1/label/__name__/values", **match)["data"]
    assert len(names_theirs) > 100  # node_exporter's families and the scrape's own
    assert names_ours == names_theirs
    cpu = {"match[]": f'node_cpu_seconds_total{{host="{host}"}}', **span}
    assert ours.get("/api/v1/series", **cpu)["data"] == theirs.get("/api/v1/series", **cpu)["data"]
    for metric in ("node_load1", "node_cpu_seconds_total", "node_filesystem_avail_bytes"):
        described = theirs.get("/api/v1/metadata", metric=metric)["data"]
        assert described, metric
        assert ours.get("/api/v1/metadata", metric=metric)["data"] == described


def test_a_token_with_a_host_label_of_its_own_writes_each_series_to_that_labels_host(
    local_cloud: CloudUnderTest,
) -> None:
    name, token = registered_agent(local_cloud, "rw-label")
    set_label = local_cloud.cli("agents", "host-label", name, "node")
    assert set_label.returncode == 0, set_label.stdout + set_label.stderr
    assert "(host label: node)" in local_cloud.cli("agents", "list").stdout
    assert local_cloud.cli("agents", "host-label", name, "bad-label").returncode == 1
    now = int(time.time() * 1000)
    written = WriteRequest()
    series = written.timeseries.add()
    for key, value in (("__name__", "probe_value"), ("instance", "x:9100"), ("node", name)):
        series.labels.add(name=key, value=value)
    series.samples.add(timestamp=now, value=2.5)
    answer = requests.post(
        write_url(local_cloud), data=encode(written), headers=writing(token), timeout=30
    )
    assert answer.status_code == 204, answer.text
    ours = Hostpulse(f"{local_cloud.endpoints['local_api_url']}/prometheus")
    query = f'probe_value{{node="{name}"}}'
    eventually(lambda: ours.instant(query, now / 1000)["data"]["result"], timeout=60, interval=1)
    stored = "custom." + exact_series_key("probe_value", [("instance", "x:9100"), ("node", name)])
    connector = PgConnector(local_cloud.endpoints["database_url"])
    with connector.transaction() as cur:
        cur.execute("SELECT host FROM series WHERE metric = %s", (stored,))
        assert [row[0] for row in cur.fetchall()] == [name]  # the node label's host
    connector.close()


def writing(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }


def test_a_token_writing_another_hosts_series_gets_403_and_nothing_is_stored(
    local_cloud: CloudUnderTest,
) -> None:
    host, token = registered_agent(local_cloud, "rw")
    other = f"other-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)
    written = WriteRequest()
    for name in (host, other):
        series = written.timeseries.add()
        for key, value in (("__name__", "probe_value"), ("host", name), ("job", "probe")):
            series.labels.add(name=key, value=value)
        series.samples.add(timestamp=now, value=1.0)
    headers = writing(token)
    answer = requests.post(
        write_url(local_cloud), data=encode(written), headers=headers, timeout=30
    )
    assert answer.status_code == 403, answer.text
    assert other in answer.text
    allowed = WriteRequest()
    allowed.timeseries.append(written.timeseries[0])
    accepted = requests.post(
        write_url(local_cloud), data=encode(allowed), headers=headers, timeout=30
    )
    assert accepted.status_code == 204, accepted.text
    ours = Hostpulse(f"{local_cloud.endpoints['local_api_url']}/prometheus")
    query = f'probe_value{{job="probe",host=~"{host}|{other}"}}'

    def stored() -> list[Any]:
        return list(ours.instant(query, now / 1000)["data"]["result"])

    eventually(lambda: len(stored()) == 1, timeout=60, interval=1)
    assert [r["metric"]["host"] for r in stored()] == [host]


def test_an_agent_mode_prometheus_loses_nothing_and_stores_nothing_twice_while_hostpulse_stops(
    tmp_path: Path,
) -> None:
    """hostpulse stopped for two minutes in the middle: the agent retries, and afterwards every
    series holds exactly the samples a Prometheus receiving the same writes holds."""
    cloud = CloudUnderTest.fresh("remote-write-restart")
    cloud.up()
    try:
        host, token = registered_agent(cloud, "rw-agent")
        ours = Hostpulse(f"{cloud.endpoints['local_api_url']}/prometheus")
        with (
            node_exporter_running(tmp_path) as node,
            prometheus_running(
                tmp_path / "oracle",
                "global: {}\n",
                tmp_path / "oracle" / "tsdb",
                "--web.enable-remote-write-receiver",
            ) as oracle,
        ):
            writes = [(write_url(cloud), token), (f"{oracle.url}/api/v1/write", None)]
            agent_dir = tmp_path / "agent"
            with prometheus_running(
                agent_dir, scrape_config(node, host, writes), agent_dir / "wal", agent=True
            ):
                time.sleep(30)
                stopped = cloud.cli("down", timeout=180)
                assert stopped.returncode == 0, stopped.stderr
                time.sleep(120)
                cloud.up()
                time.sleep(30)
                at_s = time.time() - SCRAPE_S
                eventually(lambda: same_count(oracle, ours, host, at_s), timeout=180, interval=3)
            problems = same_samples(oracle, ours, host, at_s)
        assert not problems, "\n".join(problems[:20])
    finally:
        cloud.down()


def same_count(theirs: PrometheusServer, ours: PrometheusServer, host: str, at_s: float) -> bool:
    total = f'sum(count_over_time(node_cpu_seconds_total{{host="{host}"}}[10m]))'
    mine, wanted = ours.instant(total, at_s), theirs.instant(total, at_s)
    assert mine["status"] == "success", mine
    found = mine["data"]["result"]
    return bool(found) and found[0]["value"] == wanted["data"]["result"][0]["value"]


def same_samples(
    theirs: PrometheusServer, ours: PrometheusServer, host: str, at_s: float
) -> list[str]:
    h = f'host="{host}"'
    every_sample = f"{{{h}}}[10m]"  # every series, every sample, as a matrix
    problems = compare(
        theirs.instant(every_sample, at_s), ours.instant(every_sample, at_s), every_sample
    )
    for query in (
        f"sum(count_over_time(node_cpu_seconds_total{{{h}}}[10m]))",
        f"sum by (mode) (rate(node_cpu_seconds_total{{{h}}}[1m]))",
    ):
        span = (at_s - 240, at_s, SCRAPE_S)
        problems += compare(theirs.range(query, *span), ours.range(query, *span), query)
    return problems
