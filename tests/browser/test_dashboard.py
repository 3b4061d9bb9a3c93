"""What an operator sees: the fleet, one host live and in history, processes, a dead backend."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Dialog, Page, expect

from hostpulse.adapters.postgres.agents import PgAgentRepository
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.contract import Cpu, Process
from hostpulse.localcloud.api_server import ApiServer
from hostpulse.services.agents.tokens import register_agent
from tests.browser.conftest import Fleet, screenshot, wait_for_sample
from tests.otlp_hostmetrics import CollectorHost
from tests.support import post

pytestmark = [pytest.mark.localcloud, pytest.mark.browser]
HOSTILE = "<img src=x onerror=alert(1)>"


def test_the_fleet_page_lists_the_simulated_hosts(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    page.goto(f"{api_server.url}/?q={fleet.prefix}")

    for host in fleet.hosts:
        row = page.locator(f"tr[data-row='{host.hostname}']")
        expect(row).to_contain_text("live")
        expect(row).to_contain_text("%")
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    screenshot(page, "fleet.png")

    page.fill("#filter", fleet.hosts[1].hostname)
    expect(page.locator("tbody tr")).to_have_count(1)
    assert f"q={fleet.hosts[1].hostname}" in page.url, "the filter is kept in the link"


def test_a_host_page_charts_hold_data_points(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    host = fleet.hosts[0]
    page.goto(f"{api_server.url}/?q={fleet.prefix}")
    page.click(f"tr[data-row='{host.hostname}']")

    assert f"host={host.hostname}" in page.url
    for chart in ("cpu", "cores", "memory", "load", "diskio", "net"):
        page.wait_for_function(
            f"Number(document.querySelector('[data-chart={chart}]')?.dataset.points) > 0"
        )
    cores = page.locator("[data-chart=cores] .u-legend .u-series")
    expect(cores).to_have_count(1 + host.cores)  # the time column and one line per core
    expect(page.locator("#processes tbody tr").first).to_be_visible()
    expect(page.locator("#disks")).to_contain_text("/")
    screenshot(page, "host.png")


def test_a_link_naming_a_host_in_capitals_opens_its_page(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    host = fleet.hosts[1]

    page.goto(f"{api_server.url}/?host={host.hostname.upper()}")

    # Before, the charts came (the API finds any case) but the page said the host had sent
    # nothing: it looked for the capitals in the host list, which holds the one spelling.
    expect(page.locator("#facts")).to_contain_text("last seen")
    expect(page.locator("h1")).to_have_text(host.hostname)
    page.wait_for_function("Number(document.querySelector('[data-chart=cpu]')?.dataset.points) > 0")


def test_a_new_sample_reaches_the_chart_within_two_seconds(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    host = fleet.hosts[2]
    page.goto(f"{api_server.url}/?host={host.hostname}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    page.wait_for_function("Number(document.querySelector('[data-chart=cpu]')?.dataset.points) > 0")

    ts_ms = int(time.time() * 1000)
    fleet.send(host, host.batch([ts_ms]))
    posted = time.monotonic()
    wait_for_sample(page, "cpu", ts_ms, timeout_ms=5000)
    elapsed = time.monotonic() - posted

    assert elapsed < 2.0, f"the sample took {elapsed:.2f} s to reach the chart"


def test_seven_days_read_the_thirty_minute_tier_and_the_range_is_in_the_link(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    host = fleet.hosts[0]
    page.goto(f"{api_server.url}/?host={host.hostname}")
    expect(page.locator("#tier")).to_have_attribute("data-tier", "hot")

    page.click("button[data-range='7d']")

    # 400 points over 7 days: the 30-minute tier, its minutes not rolled up yet read from 1m.
    expect(page.locator("#tier")).to_have_attribute("data-tier", "30m", timeout=15000)
    assert "range=7d" in page.url
    page.wait_for_function("Number(document.querySelector('[data-chart=cpu]')?.dataset.points) > 0")
    page.reload()
    expect(page.locator("button[data-range='7d']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#tier")).to_have_attribute("data-tier", "30m", timeout=15000)


def test_the_process_table_sorts(page: Page, api_server: ApiServer, fleet: Fleet) -> None:
    page.goto(f"{api_server.url}/?host={fleet.hosts[0].hostname}")
    rows = page.locator("#processes tbody tr")
    expect(rows.first).to_be_visible()

    def column(index: int) -> list[str]:
        return [rows.nth(i).locator("td").nth(index).inner_text() for i in range(rows.count())]

    cpu = [float(v.split()[0]) for v in column(3)]
    assert cpu == sorted(cpu, reverse=True), "busiest first by default"
    page.click("#processes th[data-key='name']")
    names = column(0)
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    page.click("#processes th[data-key='name']")
    assert column(0) == names[::-1]
    page.click("#processes th[data-key='pid']")
    pids = [int(v) for v in column(1)]
    assert pids == sorted(pids, reverse=True)


def test_a_hostile_process_name_is_shown_as_text_and_runs_nothing(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    host = fleet.hosts[1]
    sample = host.sample(int(time.time() * 1000))
    hostile = Process(pid=666, name=HOSTILE, cmdline=HOSTILE, cpu_percent=99.0, rss_bytes=1)
    batch = host.batch([sample.ts_ms]).model_copy(
        update={"samples": [sample.model_copy(update={"processes": [hostile]})]}
    )
    fleet.send(host, batch)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    page.goto(f"{api_server.url}/?host={host.hostname}")

    cell = page.locator("#processes tr[data-row='666'] td").first
    expect(cell).to_have_text(HOSTILE)
    assert page.locator("#processes img").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []


def test_with_the_api_stopped_the_page_says_so_and_recovers(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    page.goto(f"{api_server.url}/?q={fleet.prefix}")
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))

    api_server.stop()
    try:
        expect(page.locator("#banner")).to_be_visible(timeout=15000)
        expect(page.locator("#banner")).to_contain_text("not answering")
        expect(page.locator("#connection")).not_to_have_attribute("data-state", "live")
    finally:
        api_server.start()

    # The socket retries with backoff, up to 15 s between tries after a long outage, and the
    # API takes seconds to start: the bound leaves room for both.
    expect(page.locator("#banner")).to_be_hidden(timeout=40000)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=40000)
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))


def test_on_a_phone_nothing_is_wider_than_the_screen(
    browser_phone: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    page = browser_phone
    page.goto(f"{api_server.url}/?host={fleet.hosts[0].hostname}")
    page.wait_for_function("Number(document.querySelector('[data-chart=cpu]')?.dataset.points) > 0")

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

    assert overflow <= 0, f"the page is {overflow} px wider than the phone"


def test_dark_theme_follows_the_toggle_and_is_remembered(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    page.goto(f"{api_server.url}/?q={fleet.prefix}")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")

    page.click("#theme")  # auto -> light
    page.click("#theme")  # light -> dark
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.reload()

    assert page.get_attribute("html", "data-theme") == "dark"
    assert dark != light
    page.goto(f"{api_server.url}/?host={fleet.hosts[0].hostname}")
    page.wait_for_function("Number(document.querySelector('[data-chart=cpu]')?.dataset.points) > 0")
    screenshot(page, "host-dark.png")


def test_an_active_alert_shows_on_the_fleet_and_as_a_marker_on_the_host_charts(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    host = fleet.hosts[2]
    now = int(time.time() * 1000)
    batch = host.batch([now - 12_000 + 1000 * i for i in range(13)])
    hot = [s.model_copy(update={"cpu": Cpu(percent=99.0)}) for s in batch.samples]
    fleet.send(host, batch.model_copy(update={"samples": hot}))  # 12 s above 90 %: fires

    page.goto(f"{api_server.url}/?q={fleet.prefix}")

    group = page.locator("#alert-banner .alert-group[data-rule='HostHighCpu']")
    expect(group).to_have_attribute("data-state", "firing", timeout=30000)
    group.locator("summary").click()
    expect(group.locator(f"li[data-host='{host.hostname}']")).to_be_visible(timeout=30000)
    expect(page.locator(f"tr[data-row='{host.hostname}'] .count")).to_have_text("1")
    screenshot(page, "fleet-alert.png")
    page.goto(f"{api_server.url}/?host={host.hostname}")
    expect(page.locator("#host-alerts .alert")).to_contain_text("HostHighCpu")
    page.wait_for_function(
        "Number(document.querySelector('[data-chart=cpu]')?.dataset.markers) >= 1"
    )
    screenshot(page, "host-alert.png")


def test_a_host_reporting_through_the_seed_endpoint_gets_every_chart_it_has_data_for(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    name = f"seedhost-{time.time_ns() % 10**8}"  # not in the fleet filter of other tests
    repository = PgAgentRepository(PgConnector(fleet.cloud.endpoints["database_url"]))
    token = register_agent(repository, name)
    seed_url = fleet.cloud.endpoints["ingest_url"].replace("/v1/ingest", "/ingest/metrics")
    now = time.time()
    for age in (20, 15, 10, 5):
        snapshot = {
            "timestamp": now - age,
            "total_cpu_percent": 30.0 + age,
            "per_core_cpu_percent": [20.0, 40.0],
            "system_memory_total_mb": 16000,
            "system_memory_used_mb": 6000,
            "top_processes": [{"pid": 1, "name": "init", "cpu_percent": 0.5, "memory_mb": 12}],
        }
        response = post(seed_url, json.dumps(snapshot).encode(), None, **{"X-Agent-Token": token})
        assert response.status_code == 202, response.text

    page.goto(f"{api_server.url}/?host={name}&range=1h")

    for chart in ("cpu", "cores", "memory"):
        page.wait_for_function(
            f"Number(document.querySelector('[data-chart={chart}]')?.dataset.points) > 0",
            timeout=30000,
        )
    expect(page.locator("[data-chart=cores] .u-legend .u-series")).to_have_count(3)


LIVE_FRAME_CHECK = """async () => {
  const { LiveFrame } = await import('./js/charts.js');
  const frame = new LiveFrame();
  const took = frame.append([
    { ts: 1000, m: { a: 1, b: 10 } },
    { ts: 2000, m: { a: 2 } },            // b missing: a gap, not a shift
    { ts: 2000, m: { a: 99 } },           // not newer than the newest: ignored
    { ts: 3000, m: { a: 3, c: 30 } },     // c appears: earlier steps are null
  ]);
  const snapshot = () => ({
    xs: [...frame.xs], columns: Object.fromEntries([...frame.columns].map(([k, v]) => [k, [...v]])),
  });
  const appended = snapshot();
  const namesBefore = frame.names;
  frame.dropBefore(2000);                 // b's only value leaves the window: b goes
  const dropped = snapshot();
  return {
    took, appended, dropped, lastTs: frame.lastTs,
    filled: Object.fromEntries(frame.filled), namesMoved: frame.names !== namesBefore,
  };
}"""

# A chart matches the live frame's columns again only when one comes or goes.
LIVE_PICK_CHECK = """async () => {
  const { LiveFrame, TimeChart } = await import('./js/charts.js');
  const chart = new TimeChart({ id: 'check', title: 'check', patterns: ['a', 'x:*'],
                                label: (n) => n, format: String });
  const frame = new LiveFrame();
  frame.append([{ ts: 1000, m: { a: 1, b: 2 } }]);
  const first = chart.pick(frame);
  frame.append([{ ts: 2000, m: { a: 2, b: 3 } }]);  // the same columns
  const kept = chart.pick(frame) === first;
  frame.append([{ ts: 3000, m: { a: 3, 'x:2': 5, 'x:10': 6 } }]);  // two appear
  const grown = chart.pick(frame);
  frame.dropBefore(3000);                            // b leaves
  const afterDrop = chart.pick(frame);
  chart.dispose();
  return { first, kept, grown, afterDrop };
}"""


def test_the_live_window_keeps_each_metric_on_the_time_axis(
    page: Page, api_server: ApiServer
) -> None:
    page.goto(f"{api_server.url}/")

    result = page.evaluate(LIVE_FRAME_CHECK)

    assert result["took"] == 3
    assert result["appended"] == {
        "xs": [1, 2, 3],
        "columns": {"a": [1, 2, 3], "b": [10, None, None], "c": [None, None, 30]},
    }
    assert result["dropped"] == {"xs": [2, 3], "columns": {"a": [2, 3], "c": [None, 30]}}
    assert result["lastTs"] == 3000
    assert result["filled"] == {"a": 2, "c": 1}  # values held, not nulls
    assert result["namesMoved"]


def test_a_live_chart_picks_its_series_again_only_when_the_columns_change(
    page: Page, api_server: ApiServer
) -> None:
    page.goto(f"{api_server.url}/")

    result = page.evaluate(LIVE_PICK_CHECK)

    assert result["first"] == ["a"]
    assert result["kept"]
    assert result["grown"] == ["a", "x:2", "x:10"]
    assert result["afterDrop"] == ["a", "x:2", "x:10"]


@pytest.mark.slow
def test_a_host_the_opentelemetry_collector_reports_is_on_the_fleet_and_host_pages(
    page: Page, api_server: ApiServer, fleet: Fleet
) -> None:
    name = f"otelhost-{time.time_ns() % 10**8}"
    repository = PgAgentRepository(PgConnector(fleet.cloud.endpoints["database_url"]))
    token = register_agent(repository, name)
    metrics_url = fleet.cloud.endpoints["ingest_url"].replace("/v1/ingest", "/v1/metrics")
    collector = CollectorHost(name, time.time_ns() - 3600 * 10**9)
    now = time.time_ns()
    for age in (30, 20, 10, 0):
        request = collector.request(now - age * 10**9)
        response = post(
            metrics_url,
            request.SerializeToString(),
            token,
            **{"Content-Type": "application/x-protobuf"},
        )
        assert response.status_code == 200, response.text

    page.goto(f"{api_server.url}/?q={name}")
    row = page.locator(f"tr[data-row='{name}']")
    expect(row).to_contain_text("35", timeout=30000)  # its CPU %, from the counters' rates
    page.goto(f"{api_server.url}/?host={name}&range=1h")
    for chart in ("cpu", "cores", "memory", "load", "diskio", "net"):
        page.wait_for_function(
            f"Number(document.querySelector('[data-chart={chart}]')?.dataset.points) > 0",
            timeout=30000,
        )
    expect(page.locator("#processes")).to_contain_text("postgres")
    screenshot(page, "host-otlp.png")
