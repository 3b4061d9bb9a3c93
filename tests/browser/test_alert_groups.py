"""A hundred hosts firing the same rule are one line on the fleet page, not a wall of banners:
the rule, its severity, how many hosts, since when, how many silenced; it opens onto the hosts
and stays open across the page's refreshes. A rule file's alerts show the labels that tell them
apart on one host, and one of no host says it is fleet-wide."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hostpulse.adapters.postgres.alerts import PgAlertStore
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.adapters.postgres.rule_groups import PgRuleGroups
from hostpulse.localcloud.api_server import ApiServer
from hostpulse.services.alerts.ports import NewEpisode
from hostpulse.services.alerts.prometheus_rules import load_prometheus_rules
from hostpulse.services.alerts.rule_groups import (
    RuleGroupRunner,
    replace_rule_groups,
    retire_groups,
)
from hostpulse.services.alerts.rules import RuleSet
from hostpulse.services.alerts.silences import Matcher, NewSilence
from tests.alert_fakes import MemoryRecorder, ScriptedQuery
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


@pytest.fixture
def rule_file_firing(local_cloud: CloudUnderTest) -> Iterator[tuple[str, str, str]]:
    """A Prometheus rule group of its own, run once: one rule firing on two mounts of one host,
    one firing fleet-wide (no host); the group taken out afterwards, resolving them."""
    connector = PgConnector(local_cloud.endpoints["database_url"])
    groups = PgRuleGroups(connector)
    suffix = uuid.uuid4().hex[:6]
    group, host = f"browser-{suffix}", f"files-{suffix}"
    rules = load_prometheus_rules(f"""
groups:
  - name: {group}
    rules:
      - alert: WillFill{suffix}
        expr: will_fill
        labels: {{severity: warning}}
        annotations: {{summary: "{{{{ $labels.mount }}}} fills within a day"}}
      - alert: FleetDegraded{suffix}
        expr: fleet_degraded
        annotations: {{summary: "{{{{ $value }}}} hosts down"}}
""")
    replace_rule_groups(groups, rules, (), 0, keep_others=True)
    query = ScriptedQuery({
        "will_fill": {0: [({"host": host, "mount": "/"}, 1.0),
                          ({"host": host, "mount": "/var"}, 1.0)]},
        "fleet_degraded": {0: [({}, 3.0)]},
    })  # fmt: skip
    runner = RuleGroupRunner(groups, query, MemoryRecorder(), {}, RuleSet)
    runner.run(int(time.time() * 1000))
    yield suffix, host, group
    retire_groups(groups, [group], int(time.time() * 1000))
    connector.close()


def test_a_rule_files_alerts_show_what_tells_them_apart_and_fleet_wide_ones_say_so(
    page: Page, api_server: ApiServer, rule_file_firing: tuple[str, str, str]
) -> None:
    suffix, host, _ = rule_file_firing

    page.goto(api_server.url)

    fills = page.locator(f"#alert-banner .alert-group[data-rule='WillFill{suffix}']")
    expect(fills.locator("summary")).to_contain_text("2 alerts, 1 host", timeout=30000)
    fills.locator("summary").click()
    expect(fills.locator("li")).to_have_count(2)
    expect(fills.locator("li code.labels")).to_have_text(['{mount="/"}', '{mount="/var"}'])
    expect(fills.locator("li a").first).to_have_text(host)
    fleet = page.locator(f"#alert-banner .alert-group[data-rule='FleetDegraded{suffix}']")
    expect(fleet.locator("summary")).to_contain_text("1 alert, fleet-wide")
    fleet.locator("summary").click()
    expect(fleet.locator("li .fleet")).to_have_text("fleet-wide")
    expect(fleet.locator("li")).to_contain_text("3 hosts down")
    screenshot(page, "fleet-alert-groups-rule-file.png")


def test_a_rule_files_history_keeps_each_alert_of_a_host_apart(
    page: Page, api_server: ApiServer, rule_file_firing: tuple[str, str, str]
) -> None:
    suffix, host, _ = rule_file_firing

    page.goto(f"{api_server.url}/?page=alerts&rule=WillFill{suffix}&range=1h")

    rows = page.locator("#alert-history tbody tr")
    expect(rows).to_have_count(2, timeout=30000)  # one firing per mount, not one per host
    expect(rows.first).to_contain_text(host)
    page.goto(f"{api_server.url}/?page=alerts&rule=FleetDegraded{suffix}&range=1h")
    expect(rows).to_have_count(1, timeout=30000)
    expect(rows.first.locator(".fleet")).to_have_text("fleet-wide")
