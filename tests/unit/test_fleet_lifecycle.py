"""Hosts that come and go, on in-memory storage: retired by hand or after a long silence (their
alerts resolved, their hot-tier keys gone), forgotten, back when they send, and the hot tier
kept to the live fleet."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hostpulse.services.alerts.rules import load_rule_set
from hostpulse.services.alerts.service import AlertService, Outcome, RuleOnHost
from hostpulse.services.alerts.timeline import Episode
from hostpulse.services.fleet.ports import KnownHost
from hostpulse.services.fleet.service import SILENCE, FleetLifecycle
from tests.alert_fakes import MemoryAlertStore, RecordingChannel

DAY = 86_400_000
NOW = 1_800_000_000_000


@dataclass
class MemoryRegistry:
    hosts: dict[str, KnownHost] = field(default_factory=dict)
    forgotten: list[str] = field(default_factory=list)

    def add(self, host: str, last_seen_ms: int) -> None:
        self.hosts[host] = KnownHost(host, last_seen_ms, None, None)

    def known(self, host: str) -> KnownHost | None:
        return self.hosts.get(host)

    def listed(self, retired_only: bool = False) -> list[KnownHost]:
        return [h for h in self.hosts.values() if h.retired_ms is not None or not retired_only]

    def retire(self, host: str, by: str, now_ms: int) -> bool:
        found = self.hosts.get(host)
        if found is None or found.retired_ms is not None:
            return False
        self.hosts[host] = replace(found, retired_ms=now_ms, retired_by=by)
        return True

    def silent_since(self, before_ms: int) -> list[str]:
        return [h.host for h in self.hosts.values()
                if h.retired_ms is None and h.last_seen_ms < before_ms]  # fmt: skip

    def retired_before(self, before_ms: int) -> list[str]:
        return [h.host for h in self.hosts.values()
                if h.retired_ms is not None and h.last_seen_ms < before_ms]  # fmt: skip

    def forget(self, host: str) -> bool:
        self.forgotten.append(host)
        return self.hosts.pop(host, None) is not None


@dataclass
class MemoryHot:
    seen: dict[str, int] = field(default_factory=dict)  # host -> newest sample

    def forget(self, host: str) -> None:
        self.seen.pop(host, None)

    def unseen_since(self, before_ms: int, limit: int) -> list[str]:
        return sorted(h for h, ms in self.seen.items() if ms <= before_ms)[:limit]

    def forget_if_unseen(self, host: str, before_ms: int) -> bool:
        if self.seen.get(host, before_ms + 1) > before_ms:
            return False
        del self.seen[host]
        return True


def fleet_of(registry: MemoryRegistry, hot: MemoryHot, resolved: list[str]) -> FleetLifecycle:
    def resolve(host: str, now_ms: int) -> int:
        resolved.append(host)
        return 1

    return FleetLifecycle(registry, hot, resolve, retire_after_ms=7 * DAY, history_ms=90 * DAY,
                          hot_keep_ms=600_000)  # fmt: skip


def test_retiring_a_host_resolves_its_alerts_and_empties_its_hot_keys_once() -> None:
    registry, hot = MemoryRegistry(), MemoryHot({"web-1": NOW - 5_000})
    resolved: list[str] = []
    registry.add("web-1", NOW - 5_000)
    fleet = fleet_of(registry, hot, resolved)

    retired = fleet.retire("web-1", "ops (cli)", NOW)
    again = fleet.retire("web-1", "someone else", NOW + 1000)

    assert retired == KnownHost("web-1", NOW - 5_000, NOW, "ops (cli)")
    assert again == retired  # retired already: kept as it was
    assert resolved == ["web-1"] and hot.seen == {}
    assert fleet.retire("nobody", "ops", NOW) is None


def test_the_schedule_retires_hosts_down_too_long_forgets_old_retired_ones_and_sweeps() -> None:
    registry = MemoryRegistry()
    registry.add("gone-8d", NOW - 8 * DAY)
    registry.add("quiet-6d", NOW - 6 * DAY)
    registry.add("ancient", NOW - 91 * DAY)
    registry.retire("ancient", "ops", NOW - 80 * DAY)
    hot = MemoryHot({"live": NOW - 1000, "short-lived": NOW - 700_000, "quiet-6d": NOW - 6 * DAY})
    resolved: list[str] = []

    tidied = fleet_of(registry, hot, resolved).tidy(NOW)

    assert tidied.retired == ["gone-8d"] and resolved == ["gone-8d"]
    assert registry.hosts["gone-8d"].retired_by == SILENCE
    assert registry.hosts["quiet-6d"].retired_ms is None  # not yet a week
    assert tidied.forgotten == ["ancient"] and "ancient" not in registry.hosts
    assert tidied.swept == 2 and set(hot.seen) == {"live"}


def test_forgetting_an_unknown_host_still_clears_what_the_hot_tier_has_of_it() -> None:
    registry, hot = MemoryRegistry(), MemoryHot({"ghost": NOW})
    resolved: list[str] = []
    assert fleet_of(registry, hot, resolved).forget("ghost", NOW) is False
    assert hot.seen == {} and resolved == ["ghost"]


def test_a_host_that_leaves_has_its_alerts_resolved_and_told() -> None:
    rules = load_rule_set(
        "rules:\n  - {name: HostSilent, absent_for: 1m, notify: [log]}\n"
        "  - {name: Hot, metric: cpu.percent, threshold: 90, notify: [log]}\n"
    )
    store = MemoryAlertStore(rules)
    service = AlertService(store, {"log": RecordingChannel()})
    store.seen["db-1"] = (NOW - 600_000, {})
    service.tick(NOW)  # HostSilent fires for db-1
    assert [e.rule for e in store.episodes if e.resolved_ms is None] == ["HostSilent"]

    assert service.host_left("db-1", NOW + 1000) == 1

    assert all(e.resolved_ms == NOW + 1000 for e in store.episodes)
    assert [row.key[1] for row in store.outbox] == ["firing", "resolved"]
    assert service.host_left("db-1", NOW + 2000) == 0  # nothing left open


def test_an_episode_of_a_rule_deleted_since_resolves_without_a_notification() -> None:
    rules = load_rule_set("rules:\n  - {name: HostSilent, absent_for: 1m, notify: [log]}\n")
    store = MemoryAlertStore(rules)
    with store.host("db-1") as alerts:
        RuleOnHost(alerts, rules.rules[0], "db-1", NOW, Outcome()).fire(Episode(NOW - 1, NOW, 1.0))
    store.rules = load_rule_set("rules: []\n")

    assert AlertService(store, {}).host_left("db-1", NOW + 1) == 0
    assert store.episodes[0].resolved_ms == NOW + 1
    assert [row.key[1] for row in store.outbox] == ["firing"]
