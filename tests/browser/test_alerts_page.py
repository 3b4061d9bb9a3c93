"""The Alerts page: what fires grouped by rule, silences an operator makes from an alert's line
and ends, and the history filtered by rule, host and range, its filters kept in the URL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.localcloud.api_server import ApiServer
from hostpulse.services.accounts.service import Role
from hostpulse.services.alerts.ports import EventRecord, NewEpisode
from hostpulse.wiring import by_url
from tests.browser.conftest import screenshot
from tests.browser.test_sign_in_page import PASSWORD, sign_in
from tests.support import CloudUnderTest

pytestmark = [pytest.mark.localcloud, pytest.mark.browser]


@pytest.fixture
def firing(local_cloud: CloudUnderTest) -> Iterator[tuple[str, list[str]]]:
    """A rule of its own firing on three hosts, with their history; resolved afterwards."""
    connector = PgConnector(local_cloud.endpoints["database_url"])
    store = PgAlertStore(connector)
    rule = f"QueueStuck{uuid.uuid4().hex[:6]}"
    hosts = [f"queue-{i}-{rule[-6:].lower()}" for i in range(3)]
    now = int(time.time() * 1000)
    opened = []
    for i, host in enumerate(hosts):
        fired = NewEpisode(now - 120_000, now - 60_000 + i, 512.0, "warning", {},
                           {"summary": f"{host}'s queue has not moved"})  # fmt: skip
        with store.host(host) as alerts:
            opened.append((host, alerts.add_episode(rule, fired)))
            alerts.add_event(rule, EventRecord("firing", now - 60_000 + i, 512.0, "warning",
                                               f"{host}'s queue has not moved"))  # fmt: skip
    yield rule, hosts
    for host, episode_id in opened:
        assert episode_id is not None
        with store.host(host) as alerts:
            alerts.resolve_episode(episode_id, int(time.time() * 1000), None)
    connector.close()


def signed_in_as(page: Page, api_server: ApiServer, local_cloud: CloudUnderTest, role: Role) -> str:
    name = f"{role}-{time.time_ns() % 10**9}"
    by_url.account_admin(local_cloud.endpoints["database_url"]).add_user(name, PASSWORD, role)
    page.goto(f"{api_server.url}/?page=sign-in")
    sign_in(page, name)
    expect(page.locator("#account")).to_contain_text(name)
    return name


def test_an_operator_silences_an_alert_from_its_line_and_ends_the_silence(
    page: Page, api_server: ApiServer, local_cloud: CloudUnderTest, firing: tuple[str, list[str]]
) -> None:
    rule, hosts = firing
    name = signed_in_as(page, api_server, local_cloud, Role.OPERATOR)
    page.goto(f"{api_server.url}/?page=alerts")

    group = page.locator(f"#active-alerts .alert-group[data-rule='{rule}']")
    expect(group).to_have_attribute("data-hosts", "3", timeout=30000)
    group.locator("summary").click()
    group.locator(f"li[data-host='{hosts[0]}'] button").click()
    expect(page.locator("#silence-matchers")).to_have_value(f"alertname={rule} host={hosts[0]}")
    page.fill("#silence-comment", "draining the queue by hand")
    page.click("#silence-form button[type=submit]")

    row = page.locator("#silences tr", has_text=hosts[0])
    expect(row).to_contain_text("active")
    expect(row).to_contain_text(f"user {name}")
    expect(group.locator("summary")).to_contain_text("1 silenced")
    expect(group.locator(f"li[data-host='{hosts[0]}']")).to_have_attribute("data-state", "silenced")
    screenshot(page, "alerts-page.png")

    row.locator("button", has_text="end now").click()
    expect(row).to_contain_text("expired")
    expect(row).to_contain_text(f"ended: user {name}")
    expect(group.locator("summary")).not_to_contain_text("silenced")


def test_the_history_filters_are_kept_in_the_link(
    page: Page, api_server: ApiServer, firing: tuple[str, list[str]]
) -> None:
    rule, hosts = firing
    page.goto(f"{api_server.url}/?page=alerts")
    expect(page.locator("#silence-sign-in")).to_be_visible()  # not signed in: no silencing
    expect(page.locator("#silence-form")).to_have_count(0)

    page.fill("#history-rule", rule)
    page.press("#history-rule", "Enter")
    page.select_option("#history-range", "1h")

    rows = page.locator("#alert-history tbody tr")
    expect(rows).to_have_count(3)
    assert f"rule={rule}" in page.url and "range=1h" in page.url
    page.fill("#history-host", hosts[1].upper())
    page.press("#history-host", "Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(hosts[1])

    page.goto(page.url)  # the link alone shows the same
    expect(page.locator("#history-rule")).to_have_value(rule)
    expect(page.locator("#history-host")).to_have_value(hosts[1])
    expect(page.locator("#history-range")).to_have_value("1h")
    expect(rows).to_have_count(1)
    screenshot(page, "alerts-history.png")
