"""Prometheus' HTTP API under /prometheus on the real local cloud, under uvicorn and on Lambda
behind API Gateway, asked exactly as Grafana's Prometheus data source asks (form POSTs for
queries, series and label names; GETs for label values, metadata and build information)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
import requests

from hostpulse.core.prometheus_names import CPU_HELP
from hostpulse.services.promql.gomath import format_value
from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, eventually, post_batch, registered_agent

pytestmark = pytest.mark.localcloud
BASES = ("local_api_url", "api_url")  # uvicorn, and the api function behind API Gateway
GRAFANA = {"User-Agent": "Grafana/11.3.0", "X-Grafana-Org-Id": "1"}


def seconds(ms: int) -> str:
    """A time as Grafana writes it: Unix seconds with the fraction, shortest form."""
    return repr(ms / 1000).removesuffix(".0")


def post_form(cloud: CloudUnderTest, base: str, path: str, **form: str) -> requests.Response:
    return requests.post(
        f"{cloud.endpoints[base]}/prometheus/api/v1/{path}", data=form, headers=GRAFANA, timeout=60
    )


def get(cloud: CloudUnderTest, base: str, path: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{cloud.endpoints[base]}/prometheus/api/v1/{path}",
        params=params,
        headers=GRAFANA,
        timeout=60,
    )


@pytest.mark.parametrize("base", BASES)
def test_grafana_save_and_test_passes(local_cloud: CloudUnderTest, base: str) -> None:
    now = int(time.time() * 1000)
    answer = post_form(local_cloud, base, "query", query="1+1", time=seconds(now))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "success",
        "data": {
            "resultType": "scalar",
            "result": [now / 1000 if now % 1000 else now // 1000, "2"],
        },
    }
    build = get(local_cloud, base, "status/buildinfo")
    assert build.status_code == 200
    assert build.json()["data"]["version"] == "2.42.0"


@pytest.fixture(scope="module")
def sent_host(local_cloud: CloudUnderTest) -> tuple[str, list[Any]]:
    name, token = registered_agent(local_cloud, "promql")
    host = SyntheticHost(name, cores=2)
    now = int(time.time() * 1000)
    batch = host.batch([now - 40_000 + 10_000 * i for i in range(4)])
    assert post_batch(local_cloud, batch, token).status_code == 202
    samples = list(batch.samples)

    def stored() -> bool:
        found = get(local_cloud, "local_api_url", "series", **{"match[]": f'{{host="{name}"}}'})
        return found.status_code == 200 and len(found.json()["data"]) > 10

    eventually(stored, timeout=60)
    return name, samples


@pytest.mark.parametrize("base", BASES)
def test_a_panel_reads_what_the_agent_sent(
    local_cloud: CloudUnderTest, sent_host: tuple[str, list[Any]], base: str
) -> None:
    name, samples = sent_host
    first, last = samples[0].ts_ms, samples[-1].ts_ms
    answer = post_form(
        local_cloud, base, "query_range",
        query=f'hostpulse_cpu_percent{{host="{name}", mode="total"}}',
        start=seconds(first), end=seconds(last), step="10",
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success" and body["data"]["resultType"] == "matrix"
    (series,) = body["data"]["result"]
    assert series["metric"] == {
        "__name__": "hostpulse_cpu_percent", "fleet": "simulated", "host": name, "mode": "total"
    }  # fmt: skip
    assert series["values"] == [[s.ts_ms / 1000, format_value(s.cpu.percent)] for s in samples]


@pytest.mark.parametrize("base", BASES)
def test_the_query_editor_finds_names_labels_and_values(
    local_cloud: CloudUnderTest, sent_host: tuple[str, list[Any]], base: str
) -> None:
    name, samples = sent_host
    span = {"start": seconds(samples[0].ts_ms - 60_000), "end": seconds(samples[-1].ts_ms)}
    names = post_form(local_cloud, base, "labels", **span)
    assert {"__name__", "host", "mode", "core", "mount", "interface"} <= set(names.json()["data"])
    metrics = get(local_cloud, base, "label/__name__/values", **span)
    assert "hostpulse_cpu_percent" in metrics.json()["data"]
    hosts = get(
        local_cloud, base, "label/host/values", **{"match[]": "hostpulse_cpu_percent"}, **span
    )
    assert name in hosts.json()["data"]
    cores = post_form(
        local_cloud,
        base,
        "series",
        **{"match[]": f'hostpulse_cpu_core_percent{{host="{name}"}}'},
        **span,
    )
    assert sorted(s["core"] for s in cores.json()["data"]) == ["0", "1"]
    metadata = get(local_cloud, base, "metadata", metric="hostpulse_cpu_percent").json()["data"]
    assert metadata == {
        "hostpulse_cpu_percent": [{"type": "gauge", "help": CPU_HELP, "unit": "percent"}]
    }
    assert post_form(local_cloud, base, "query_exemplars", query="up", **span).json()["data"] == []


BAD = [
    # (how it is asked, status, errorType)
    ({"query": "sum("}, 400, "bad_data"),
    ({"query": "rate(hostpulse_load1)"}, 400, "bad_data"),
    ({"query": "holt_winters(hostpulse_load1[5m], 0.5, 0.5)"}, 400, "bad_data"),
    ({"query": "hostpulse_load1", "time": "yesterday"}, 400, "bad_data"),
    ({"query": "hostpulse_load1", "time": "NaN"}, 400, "bad_data"),
    ({"query": "hostpulse_load1", "time": "1e300"}, 400, "bad_data"),
    ({"query": "hostpulse_load1", "timeout": "soon"}, 400, "bad_data"),
    ({"query": 'hostpulse_load1{host=~"("}'}, 400, "bad_data"),
    ({"query": 'label_replace(hostpulse_load1, "1bad", "x", "host", ".*")'}, 422, "execution"),
    ({"query": "hostpulse_cpu_core_percent + on(host) hostpulse_load1"}, 422, "execution"),
]
BAD_RANGES = [
    ({"query": "1", "start": "100", "end": "50", "step": "1"}, 400, "bad_data"),
    ({"query": "1", "start": "0", "end": "100", "step": "0"}, 400, "bad_data"),
    ({"query": "1", "start": "0", "end": "100000", "step": "1"}, 400, "bad_data"),
    ({"query": "1", "start": "0", "end": "10"}, 400, "bad_data"),
    ({"query": "hostpulse_load1[5m]", "start": "0", "end": "10", "step": "1"}, 400, "bad_data"),
]


@pytest.mark.parametrize("base", BASES)
def test_bad_requests_get_prometheus_errors_never_a_500(
    local_cloud: CloudUnderTest, base: str
) -> None:
    wrong = []  # the many-to-one case needs the host's cores and load at hand: sent_host
    for path, cases in (("query", BAD), ("query_range", BAD_RANGES)):
        for form, status, error_type in cases:
            for answer in (
                post_form(local_cloud, base, path, **form),
                get(local_cloud, base, path, **form),
            ):
                body = answer.json()
                if (answer.status_code, body.get("status"), body.get("errorType")) != (
                    status,
                    "error",
                    error_type,
                ):
                    wrong.append(f"{path} {form}: {answer.status_code} {body}")
    assert not wrong, "\n".join(wrong)


def test_promtool_reads_hostpulse_as_a_prometheus_server(
    local_cloud: CloudUnderTest, sent_host: tuple[str, list[Any]]
) -> None:
    """Prometheus' own client: promtool's queries, series and labels against /prometheus."""
    name, samples = sent_host
    server = f"{local_cloud.endpoints['local_api_url']}/prometheus"
    selector = f'hostpulse_cpu_percent{{host="{name}", mode="total"}}'
    start, end = seconds(samples[0].ts_ms), seconds(samples[-1].ts_ms)

    def promtool(*args: str) -> str:
        done = subprocess.run(
            ["promtool", "query", *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    ranged = promtool(
        "range", f"--start={start}", f"--end={end}", "--step=10s", "--format=json", server, selector
    )
    (series,) = json.loads(ranged)
    assert [v for _, v in series["values"]] == [format_value(s.cpu.percent) for s in samples]
    instant = promtool("instant", "--time", end, server, selector)
    assert f'host="{name}"' in instant and format_value(samples[-1].cpu.percent) in instant
    found = promtool("series", f"--match={selector}", server)
    assert "hostpulse_cpu_percent" in found and name in found
    labels = promtool("labels", f"--match={selector}", server, "mode")
    assert labels.split() == ["total"]
