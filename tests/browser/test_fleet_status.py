"""The fleet page's status counts: live, stale, down and retired, each a link that shows only
its hosts (kept in the URL) and, clicked again, all of them; a retired host is listed only
there."""

from __future__ import annotations

import time

import pytest
import requests
from playwright.sync_api import Page, expect

from hostpulse.localcloud.api_server import ApiServer
from hostpulse.simulation.host import SyntheticHost
from tests.browser.conftest import Fleet, screenshot
from tests.integration.test_alerts_api import admin_token
from tests.support import CloudUnderTest, eventually, post_batch, registered_agent

pytestmark = [pytest.mark.localcloud, pytest.mark.browser]


def test_each_status_is_a_link_to_its_hosts_and_retired_ones_are_listed_only_there(
    page: Page, api_server: ApiServer, fleet: Fleet, local_cloud: CloudUnderTest
) -> None:
    api = local_cloud.endpoints["local_api_url"]
    name, token = registered_agent(local_cloud, f"{fleet.prefix}-gone")
    host = SyntheticHost(name, cores=1)
    sent = post_batch(local_cloud, host.batch([int(time.time() * 1000)]), token)
    assert sent.status_code == 202, sent.text
    hosts_url = f"{api}/api/v1/hosts"
    eventually(lambda: any(h["host"] == name and h["agent_id"]
                           for h in requests.get(hosts_url, timeout=30).json()["hosts"]),
               timeout=60)  # fmt: skip
    operator = {"Authorization": f"Bearer {admin_token(local_cloud)}"}
    retired = requests.post(f"{hosts_url}/{name}/retire", headers=operator, timeout=30)
    assert retired.status_code == 200, retired.text

    page.goto(f"{api_server.url}/?q={fleet.prefix}")

    summary = page.locator("#fleet-summary")
    expect(summary.locator("a[data-status='live']")).to_be_visible(timeout=30000)
    expect(page.locator(f"tr[data-row='{name}']")).to_have_count(0)
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))
    summary.locator("a[data-status='retired']").click()
    expect(page.locator(f"tr[data-row='{name}']")).to_contain_text("retired")
    assert "status=retired" in page.url
    screenshot(page, "fleet-retired.png")

    summary.locator("a[data-status='down']").click()
    assert "status=down" in page.url
    expect(page.locator(f"tr[data-row='{name}']")).to_have_count(0)
    summary.locator("a[data-status='down']").click()  # again: every host
    assert "status=" not in page.url
    expect(page.locator("tbody tr")).to_have_count(len(fleet.hosts))

    page.goto(f"{api_server.url}/?status=retired&q={name}")  # the link opens on it
    expect(page.locator(f"tr[data-row='{name}']")).to_be_visible(timeout=30000)
