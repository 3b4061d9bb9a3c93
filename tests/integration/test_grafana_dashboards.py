"""The Grafana dashboards shipped in grafana/dashboards: each panel's every query, with its
variables filled in as Grafana fills them, asked of the /prometheus API as Grafana's data
source asks it, answers without an error and with series for a live host."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests

from hostpulse.simulation.host import SyntheticHost
from tests.support import CloudUnderTest, eventually, post_batch, registered_agent

pytestmark = pytest.mark.localcloud
DASHBOARDS = sorted((Path(__file__).parents[2] / "grafana" / "dashboards").glob("*.json"))
SCRAPE_S = 15  # the data source's scrape interval, Grafana's default
STEP_S = 15  # a 15-minute panel's step: Grafana's interval, never below the scrape interval
RANGE_S = 15 * 60
REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|{}\[\]])")


def regex_escaped(value: str) -> str:
    """Grafana's escape of a value inside a regular expression in a PromQL string."""
    return REGEX_SPECIAL.sub(r"\\\\\1", value)


def interpolated(expr: str, variables: dict[str, Any], choices: dict[str, list[str]]) -> str:
    """The expression as Grafana sends it: a multi-value variable as (a|b) of escaped values,
    a single one as it is; the interval variables as their durations."""
    builtins = {
        "__rate_interval": f"{max(STEP_S + SCRAPE_S, 4 * SCRAPE_S)}s",
        "__interval": f"{STEP_S}s",
        "__range": f"{RANGE_S}s",
    }
    for name, value in builtins.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    for name, chosen in choices.items():
        definition = variables[name]
        if definition.get("multi") or definition.get("includeAll"):
            text = "(" + "|".join(regex_escaped(v) for v in chosen) + ")"
        else:
            text = chosen[0].replace("\\", "\\\\").replace("'", "\\'")
        expr = expr.replace(f"${{{name}}}", text).replace(f"${name}", text)
    return expr


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_a_dashboard_is_importable_and_uses_a_data_source_variable(path: Path) -> None:
    dashboard = load(path)
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["host"]["definition"] == "label_values(hostpulse_cpu_percent, host)"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and ids
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]


@pytest.fixture(scope="module")
def live_host(local_cloud: CloudUnderTest) -> str:
    name, token = registered_agent(local_cloud, "grafana")
    host = SyntheticHost(name, cores=2)
    now = int(time.time() * 1000)
    for first in (now - 120_000, now - 60_000):
        batch = host.batch([first + 10_000 * i for i in range(6)])
        assert post_batch(local_cloud, batch, token).status_code == 202
    # Both batches stored before any panel asks: with the first alone, a panel reading the
    # 1-minute tier may see a single bucket, and a rate of change needs two.
    eventually(lambda: stored_samples(local_cloud, name) == 12, timeout=60)
    return name


def stored_samples(cloud: CloudUnderTest, host: str) -> int:
    with psycopg2.connect(cloud.endpoints["database_url"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM samples_raw WHERE host = %s", (host,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def label_values(cloud: CloudUnderTest, definition: str) -> list[str]:
    """label_values(metric, label), as Grafana resolves it: the label's values endpoint with
    the metric as match[], over the dashboard's time range."""
    found = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", definition)
    assert found is not None, definition
    metric, label = found.groups()
    now = time.time()
    answer = requests.get(
        f"{cloud.endpoints['local_api_url']}/prometheus/api/v1/label/{label}/values",
        params={"match[]": metric, "start": now - RANGE_S, "end": now},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    values: list[str] = answer.json()["data"]
    return values


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_answers_for_a_live_host(
    local_cloud: CloudUnderTest, live_host: str, path: Path
) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    eventually(lambda: live_host in label_values(local_cloud, variables["host"]["definition"]), 60)
    choices = {"host": [live_host]}
    base = f"{local_cloud.endpoints['local_api_url']}/prometheus/api/v1"
    now = time.time()
    failures = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = interpolated(target["expr"], variables, choices)
            if target.get("instant"):
                form = {"query": expr, "time": repr(now)}
                answer = requests.post(f"{base}/query", data=form, timeout=60)
            else:
                form = {
                    "query": expr,
                    "start": repr(now - RANGE_S),
                    "end": repr(now),
                    "step": str(STEP_S),
                }
                answer = requests.post(f"{base}/query_range", data=form, timeout=60)
            body = answer.json()
            result = body.get("data", {}).get("result")
            if answer.status_code != 200 or not result:
                failures.append(f"{panel['title']}: {expr} -> {answer.status_code} {body}")
    assert not failures, "\n".join(failures)
