"""A hundred hosts firing the same rule are one line on the fleet page, not a wall of banners:
the rule, its severity, how many hosts, since when, how many silenced; it opens onto the hosts
and stays open across the page's refreshes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.localcloud.api_server import ApiServer
from hostpulse.services.alerts.ports import NewEpisode
from hostpulse.services.alerts.silences import Matcher, NewSilence
from tests.browser.conftest import screenshot
from tests.support import CloudUnderTest

pytestmark = [pytest.mark.localcloud, pytest.mark.browser]
HOSTS = 100
SILENCED = 7


@pytest.fixture
def hundred_firing(local_cloud: CloudUnderTest) -> Iterator[tuple[str, list[str]]]:
    """A rule of its own firing on a hundred hosts, seven of them silenced; all resolved and
    the silence ended afterwards, so that no other test sees them."""
    connector = PgConnector(local_cloud.endpoints["database_url"])
    store = PgAlertStore(connector)
    rule = f"DiskWillFill{uuid.uuid4().hex[:6]}"
    hosts = [f"disk-{i:03d}-{rule[-6:]}" for i in range(HOSTS)]
    now = int(time.time() * 1000)
    episodes = []
    for i, host in enumerate(hosts):
        fired = NewEpisode(now - 600_000 + i * 1000, now - 300_000 + i * 1000, 97.0, "critical",
                           {}, {"summary": f"/var on {host} fills within a day"})  # fmt: skip
        with store.host(host) as alerts:
            episodes.append((host, alerts.add_episode(rule, fired)))
    matchers = (Matcher(name="alertname", value=rule),
                Matcher(name="host", value="|".join(hosts[:SILENCED]), op="=~"))  # fmt: skip
    silence = store.add_silence(NewSilence(matchers, now - 1000, now + 3_600_000, "disk swap",
                                           "test"), now)  # fmt: skip
    yield rule, hosts
    for host, episode_id in episodes:
        with store.host(host) as alerts:
            assert episode_id is not None
            alerts.resolve_episode(episode_id, int(time.time() * 1000), None)
    store.expire_silence(silence.id, "test", int(time.time() * 1000))
    connector.close()


def test_a_hundred_hosts_firing_one_rule_are_one_line_that_opens_onto_them(
    page: Page, api_server: ApiServer, hundred_firing: tuple[str, list[str]]
) -> None:
    rule, hosts = hundred_firing

    page.goto(api_server.url)

    group = page.locator(f"#alert-banner .alert-group[data-rule='{rule}']")
    expect(group).to_have_attribute("data-hosts", str(HOSTS), timeout=30000)
    summary = group.locator("summary")
    expect(summary).to_contain_text(f"{rule}")
    expect(summary).to_contain_text("critical")
    expect(summary).to_contain_text(f"{HOSTS} hosts")
    expect(summary).to_contain_text(f"{SILENCED} silenced")
    expect(summary).to_contain_text("since 10 min ago")
    assert page.locator("#alert-banner .alert-group").count() < 10  # one line per rule
    assert group.bounding_box()["height"] < 60  # type: ignore[index]
    expect(group.locator("li").first).to_be_hidden()
    screenshot(page, "fleet-alert-groups.png")

    summary.click()
    expect(group.locator("li")).to_have_count(HOSTS)
    expect(group.locator(f"li[data-host='{hosts[0]}']")).to_have_attribute("data-state", "silenced")
    expect(group.locator(f"li[data-host='{hosts[-1]}']")).to_have_attribute("data-state", "firing")
    page.wait_for_timeout(6000)  # past the page's next refresh: still open
    expect(group.locator(f"li[data-host='{hosts[-1]}']")).to_be_visible()
    screenshot(page, "fleet-alert-groups-open.png")
