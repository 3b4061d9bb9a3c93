"""The Pipeline page on the local cloud's own API (which watches its queues): health now, and
the minutes the alerts schedule recorded, charted."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import Fleet, screenshot
from tests.support import CloudUnderTest, eventually

pytestmark = [pytest.mark.localcloud, pytest.mark.browser]


def recorded_minutes(cloud: CloudUnderTest) -> int:
    answer: dict[str, Any] = requests.get(
        f"{cloud.endpoints['local_api_url']}/api/v1/pipeline/history", timeout=30
    ).json()
    return sum(1 for batches in answer["ingest_batches"] if batches)


@pytest.mark.slow  # it waits for a minute of the pipeline's history to be recorded
@pytest.mark.timeout(400)
def test_the_pipeline_page_shows_health_now_and_the_recorded_minutes(
    page: Page, local_cloud: CloudUnderTest, fleet: Fleet
) -> None:
    # The fleet's batches were ingested; the schedule closes each minute after it ends.
    eventually(lambda: recorded_minutes(local_cloud), timeout=200, interval=5)

    page.goto(f"{local_cloud.endpoints['dashboard_url']}?page=pipeline")

    # Other tests may have left a dead letter or a lag behind: either verdict, said right.
    status = page.locator("#pipeline-status")
    expect(status).to_have_attribute("data-status", re.compile("^(ok|degraded)$"))
    if status.get_attribute("data-status") == "ok":
        expect(status).to_contain_text("Healthy")
    else:
        expect(status).to_contain_text("Degraded")
        expect(status.locator(".problems li").first).to_be_visible()
    expect(page.locator("#queues tr[data-row='aggregate']")).to_be_visible()
    expect(page.locator("#queues tr[data-row='alerts']")).to_be_visible()
    for chart in ("ingest", "samples", "latency", "aggregate", "queues", "dead", "lag"):
        page.wait_for_function(
            f"Number(document.querySelector('[data-chart={chart}]')?.dataset.points) > 0"
        )
    expect(page.locator("#pipeline-link")).to_have_attribute("aria-current", "page")
    expect(page.locator("#crumbs")).to_contain_text("Pipeline")
    screenshot(page, "pipeline.png")

    page.click("[data-range='24h']")
    assert "range=24h" in page.url and "page=pipeline" in page.url
    page.wait_for_function(
        "Number(document.querySelector('[data-chart=ingest]')?.dataset.points) > 0"
    )
    page.click("[data-nav]")  # back to the fleet
    expect(page.locator("#filter")).to_be_visible()
    expect(page.locator("#pipeline-link")).to_have_attribute("aria-current", "false")
