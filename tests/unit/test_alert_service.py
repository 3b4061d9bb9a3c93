"""The alert service on in-memory storage: one notification per firing and per resolution,
whatever the order or repetition of batches; absent data; reminders; failed deliveries."""

from __future__ import annotations

import random

from hostpulse.core.contract import Batch, Cpu
from hostpulse.services.alerts.rules import load_rule_set
from hostpulse.services.alerts.service import AlertService
from hostpulse.simulation.host import SyntheticHost
from tests.alert_fakes import MemoryAlertStore, RecordingChannel

RULES = """
notifiers:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/hook"}
rules:
  - name: HostHighCpu
    metric: cpu.percent
    threshold: 90
    for: 10s
    notify: [hook]
    repeat_interval: 1h
  - name: HostSilent
    absent_for: 1m
    notify: [hook]
"""
T0 = 1_795_000_000_000


def rig() -> tuple[AlertService, MemoryAlertStore, RecordingChannel]:
    store = MemoryAlertStore(load_rule_set(RULES))
    channel = RecordingChannel()
    return AlertService(store, {"webhook": channel, "log": channel}), store, channel


def batches(cpu: list[float], per_batch: int = 2, every_s: int = 1) -> list[Batch]:
    """One sample every ``every_s`` seconds from T0, ``per_batch`` samples per batch."""
    host = SyntheticHost("web-1", cores=2)
    out = []
    for start in range(0, len(cpu), per_batch):
        stamps = [T0 + 1000 * every_s * i for i in range(start, min(start + per_batch, len(cpu)))]
        batch = host.batch(stamps)
        samples = [
            s.model_copy(update={"cpu": Cpu(percent=cpu[(s.ts_ms - T0) // 1000 // every_s])})
            for s in batch.samples
        ]
        out.append(batch.model_copy(update={"samples": samples}))
    return out


# The seed's example: above 90 % for 15 s, then back down.
SEED = [50.0] * 5 + [95.0] * 15 + [40.0] * 10


def run(service: AlertService, sequence: list[Batch]) -> None:
    for batch in sequence:
        service.evaluate_batch(batch, T0 + 60_000)
    service.deliver_due(T0 + 60_000)


def kinds(channel: RecordingChannel) -> list[tuple[str, str]]:
    return [(p["kind"], p["rule"]) for _, p in channel.sent]


def test_the_seed_example_fires_once_and_resolves_once() -> None:
    service, store, channel = rig()

    run(service, batches(SEED))

    assert kinds(channel) == [("firing", "HostHighCpu"), ("resolved", "HostHighCpu")]
    firing, resolved = (p for _, p in channel.sent)
    assert firing["started_at"].startswith("2026") and firing["value"] == 95.0
    assert resolved["resolved_at"] > firing["fired_at"] > firing["started_at"]
    episode = store.episodes[0]
    assert (episode.started_ms - T0, episode.fired_ms - T0, episode.resolved_ms) == (
        5000,
        15000,
        T0 + 20000,
    )


def test_duplicates_and_any_order_of_batches_change_nothing() -> None:
    service, store, channel = rig()
    shuffled = batches(SEED) * 2
    random.Random(3).shuffle(shuffled)

    run(service, shuffled)

    assert kinds(channel) == [("firing", "HostHighCpu"), ("resolved", "HostHighCpu")]
    assert len(store.episodes) == 1


def test_a_spike_shorter_than_for_sends_nothing_and_a_healthy_host_stores_nothing() -> None:
    service, store, channel = rig()

    run(service, batches([50.0] * 5 + [95.0] * 8 + [40.0] * 10))
    spike_points = sum(len(p) for p in store.points.values())
    run(service, batches([30.0] * 20))

    assert channel.sent == []
    assert store.episodes == []
    assert spike_points > 0
    assert store.points == {} and store.state == {}, "a healthy pair keeps no rows"


def test_a_host_that_goes_silent_fires_once_and_resolves_when_it_sends() -> None:
    service, store, channel = rig()
    store.seen["web-1"] = (T0, {})

    service.tick(T0 + 30_000)
    service.tick(T0 + 61_000)
    service.tick(T0 + 120_000)
    run(service, batches([20.0] * 2))

    assert kinds(channel) == [("firing", "HostSilent"), ("resolved", "HostSilent")]


def test_a_reminder_after_the_repeat_interval_and_only_then() -> None:
    service, _, channel = rig()
    run(service, batches([95.0] * 63, every_s=60))  # a sample a minute for an hour, breaching

    service.tick(T0 + 30 * 60_000)
    service.tick(T0 + 61 * 60_000)
    service.tick(T0 + 62 * 60_000)

    assert kinds(channel) == [("firing", "HostHighCpu"), ("reminder", "HostHighCpu")]


def test_a_host_gone_silent_resolves_once_its_series_is_stale() -> None:
    service, store, channel = rig()
    run(service, batches([95.0] * 12))  # fires at 10 s, then nothing more

    service.tick(T0 + 4 * 60_000)  # its last value still in sight: still firing
    assert [e.resolved_ms for e in store.episodes] == [None]
    service.tick(T0 + 6 * 60_000)

    assert [e.resolved_ms for e in store.episodes] == [T0 + 11_000 + 300_000 + 1]
    assert [k for k, _ in kinds(channel)] == ["firing", "resolved"]


def test_a_run_cut_short_by_silence_fires_on_its_last_value_as_prometheus_does() -> None:
    service, store, channel = rig()
    run(service, batches([50.0, 95.0, 95.0]))  # pending from 1 s; for is 10 s; then silent

    assert channel.sent == []
    service.tick(T0 + 60_000)

    [episode] = store.episodes
    assert (episode.started_ms, episode.fired_ms) == (T0 + 1000, T0 + 11_000)
    assert kinds(channel) == [("firing", "HostHighCpu")]


def test_a_failed_webhook_is_retried_later_and_blocks_nothing() -> None:
    service, store, channel = rig()
    channel.failures = 1

    run(service, batches(SEED))
    first, sent = [o.attempts for o in store.outbox], len(channel.sent)
    service.deliver_due(T0 + 60_000 + 11 * 60_000)  # past any backoff of the first retry

    assert first == [1, 1] and sent == 1, "the resolution went out; the firing waits"
    assert kinds(channel) == [("resolved", "HostHighCpu"), ("firing", "HostHighCpu")]
    assert all(o.delivered_ms is not None for o in store.outbox)


STILL_HOT = [50.0] * 5 + [95.0] * 15  # fires and keeps firing


def test_a_deleted_rule_resolves_its_alerts_with_a_notification() -> None:
    service, store, channel = rig()
    run(service, batches(STILL_HOT))
    rule = next(r for r in store.rules.rules if r.name == "HostHighCpu")

    outcome = service.retire(rule, None, T0 + 90_000)
    service.deliver_due(T0 + 90_000)

    assert outcome.resolved == 1
    assert kinds(channel) == [("firing", "HostHighCpu"), ("resolved", "HostHighCpu")]
    assert store.hosts_with_open_episodes() == []


def test_a_changed_rule_resolves_only_the_hosts_it_no_longer_watches() -> None:
    service, store, _ = rig()
    run(service, batches(STILL_HOT))
    rule = next(r for r in store.rules.rules if r.name == "HostHighCpu")
    still_watching = rule.model_copy(update={"threshold": 99.0})
    elsewhere = rule.model_copy(update={"hosts": rule.hosts.model_copy(update={"names": ["db-*"]})})

    assert service.retire(rule, still_watching, T0 + 90_000).resolved == 0
    assert store.hosts_with_open_episodes() == ["web-1"]
    assert service.retire(rule, elsewhere, T0 + 90_000).resolved == 1
    assert store.hosts_with_open_episodes() == []


def test_what_fires_is_resent_to_alertmanagers_on_every_tick_and_only_to_them() -> None:
    rules = RULES.replace(
        "notifiers:\n",
        'notifiers:\n  - {name: am, type: alertmanager, urls: ["http://127.0.0.1:9"]}\n',
    ).replace(
        "    notify: [hook]\n    repeat_interval: 1h",
        "    notify: [hook, am]\n    repeat_interval: 1h",
    )
    store = MemoryAlertStore(load_rule_set(rules))
    hook, manager = RecordingChannel(), RecordingChannel()
    service = AlertService(store, {"webhook": hook, "alertmanager": manager, "log": hook})
    firing_only = SEED[:20]  # above the threshold at the end: still firing

    run(service, batches(firing_only))
    for minute in (1, 2, 3):
        assert service.tick(T0 + 20_000 + minute * 60_000).resent == 1
    run(service, batches(SEED))  # back down: resolved
    service.tick(T0 + 5 * 60_000)

    assert kinds(hook) == [("firing", "HostHighCpu"), ("resolved", "HostHighCpu")]
    assert kinds(manager) == [("firing", "HostHighCpu"), *[("reminder", "HostHighCpu")] * 3,
                              ("resolved", "HostHighCpu")]  # fmt: skip
    resent = [p for _, p in manager.sent if p["kind"] == "reminder"]
    assert {(p["status"], p["value"], p["fired_at"]) for p in resent} == {
        ("firing", 95.0, manager.sent[0][1]["fired_at"])
    }  # the firing's own value and annotations, as the episode keeps them
