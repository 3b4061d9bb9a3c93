"""The dashboard under its own Content-Security-Policy, enforced: nothing it needs is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from hostpulse.localcloud.api_server import ApiServer
from tests.browser.conftest import Fleet

pytestmark = [pytest.mark.localcloud, pytest.mark.browser]


@pytest.fixture
def strict_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    refused: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: refused.append(str(error)))
    yield page, refused
    context.close()


def drawn_points(page: Page, chart: str) -> int:
    # An attribute read, not a polled predicate: the CSP forbids evaluated strings.
    return int(page.locator(f"[data-chart={chart}]").get_attribute("data-points") or 0)


def test_the_fleet_a_host_and_the_pipeline_page_work_with_the_csp_enforced(
    strict_page: tuple[Page, list[str]], api_server: ApiServer, fleet: Fleet
) -> None:
    page, refused = strict_page
    host = fleet.hosts[0]

    page.goto(f"{api_server.url}/?q={fleet.prefix}")
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))
    page.click(f"tr[data-row='{host.hostname}']")
    deadline = time.monotonic() + 20
    while drawn_points(page, "cpu") == 0 and time.monotonic() < deadline:
        time.sleep(0.2)

    assert drawn_points(page, "cpu") > 0
    expect(page.locator("#processes tbody tr").first).to_be_visible()
    assert refused == []

    # The Pipeline page of an API that watches no queues: it says so, under the same CSP.
    page.click("#pipeline-link")
    expect(page.locator("#pipeline-status .verdict")).to_be_visible()
    expect(page.locator("#queues")).to_contain_text("watches no queues")
    expect(page.locator("[data-chart=ingest]")).to_be_visible()
    assert refused == []
