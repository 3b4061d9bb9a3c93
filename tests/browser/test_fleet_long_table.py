"""A fleet of hundreds on the fleet page: only the window's rows are in the document (the rest
stand as spacers, and scrolling brings them), sorting and filtering act on the whole fleet, and
a live sample redraws its own row's cells and nothing else."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from playwright.sync_api import Page, expect

from hostpulse.localcloud.api_server import ApiServer
from tests.browser.conftest import Fleet
from tests.support import CloudUnderTest, eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.browser, pytest.mark.slow]
HOSTS = 240  # past the fleet page's VIRTUAL_FROM (200)


@pytest.fixture(scope="module")
def long_fleet(local_cloud: CloudUnderTest) -> Fleet:
    fleet = Fleet(local_cloud, f"long{time.time_ns() % 10**6}")
    fleet.add(HOSTS, cores=1)
    now = int(time.time() * 1000)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda h: fleet.send(h, h.batch([now - 1000])), fleet.hosts))
    hosts_url = f"{local_cloud.endpoints['local_api_url']}/api/v1/hosts"

    def listed() -> int:
        hosts = requests.get(hosts_url, timeout=30).json()["hosts"]
        return sum(h["host"].startswith(fleet.prefix) and h["now"] is not None for h in hosts)

    eventually(lambda: listed() == HOSTS, timeout=120, interval=1)
    return fleet


def rows(page: Page) -> list[str]:
    drawn = page.eval_on_selector_all(
        "tbody tr:not(.spacer)", "rows => rows.map(r => r.dataset.row)"
    )
    return [str(name) for name in drawn]


def test_only_the_window_is_drawn_and_the_whole_fleet_is_sorted_and_filtered(
    page: Page, api_server: ApiServer, long_fleet: Fleet
) -> None:
    prefix = long_fleet.prefix
    page.goto(f"{api_server.url}/?q={prefix}")
    # The session's cloud holds other tests' hosts too: the filter leaves this fleet's.
    table = page.locator("table[aria-label=Hosts]")
    expect(table).to_have_attribute("aria-rowcount", str(HOSTS + 1), timeout=30000)

    drawn = rows(page)
    assert drawn[0] == f"{prefix}-00"
    assert 20 <= len(drawn) < 100, "the window's rows and a margin, not the whole fleet"
    assert f"{prefix}-{HOSTS - 1}" not in drawn
    assert page.locator("tbody tr").first.get_attribute("aria-rowindex") is None  # a spacer

    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    expect(page.locator(f"tr[data-row='{prefix}-{HOSTS - 1}']")).to_be_visible()
    assert f"{prefix}-00" not in rows(page)
    last = page.locator(f"tr[data-row='{prefix}-{HOSTS - 1}']")
    assert last.get_attribute("aria-rowindex") == str(HOSTS + 1)

    # Sorting takes the whole fleet: the busiest host of all comes first.
    api = f"{api_server.url}/api/v1/hosts"
    fleet = [
        h for h in requests.get(api, timeout=30).json()["hosts"] if h["host"].startswith(prefix)
    ]
    busiest = max(fleet, key=lambda h: h["now"]["cpu_percent"])["host"]
    page.evaluate("window.scrollTo(0, 0)")
    page.click("th[data-key=cpu]")  # numbers sort highest first
    expect(page.locator("tbody tr:not(.spacer)").first).to_have_attribute("data-row", busiest)

    # A filter narrower than the threshold lists every match in the document.
    page.fill("#filter", f"{prefix}-23")
    expect(page.locator("tbody tr")).to_have_count(11)  # -23 and -230 to -239
    expect(table).not_to_have_attribute("aria-rowcount", str(HOSTS + 1))


def test_a_live_sample_redraws_its_own_cells_only(
    page: Page, api_server: ApiServer, long_fleet: Fleet
) -> None:
    prefix = long_fleet.prefix
    page.goto(f"{api_server.url}/?q={prefix}")
    expect(page.locator("#connection[data-state=live]")).to_be_visible(timeout=30000)
    expect(page.locator(f"tr[data-row='{prefix}-00']")).to_be_visible()
    # Every drawn cell is marked; a redrawn one is a new element without the mark.
    page.evaluate("document.querySelectorAll('tbody td').forEach(td => { td.dataset.kept = '1'; })")
    host = long_fleet.hosts[1]
    batch = host.batch([int(time.time() * 1000)])
    cpu = batch.samples[0].cpu
    assert cpu is not None
    long_fleet.send(host, batch)

    row = page.locator(f"tr[data-row='{host.hostname}']")
    expect(row.locator("td").nth(3)).to_contain_text(f"{cpu.percent:.1f} %", timeout=30000)
    # Cells other than "Last seen" (whose age text moves on for every host) kept their element.
    seen = page.locator("th").evaluate_all("ths => ths.findIndex(th => th.dataset.key === 'seen')")
    redrawn = page.eval_on_selector_all(
        "tbody tr:not(.spacer)",
        f"rows => rows.flatMap(r => [...r.cells].filter((c, i) => i !== {seen} && !c.dataset.kept)"
        ".map(c => r.dataset.row))",
    )
    assert set(redrawn) == {host.hostname}, "only the sampled host's row changed"
