"""Alert evaluation: a batch's samples against every rule for its host, firings kept once in
PostgreSQL however many instances run, and notifications delivered after the fact."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hostpulse.core.contract import Batch
from hostpulse.core.responses import AlertState
from hostpulse.services.alerts.notification_body import payload, send_now
from hostpulse.services.alerts.ports import (
    AlertStore,
    Channel,
    Delivery,
    EventRecord,
    HostAlerts,
    NewEpisode,
    Notification,
    NotificationKind,
    RuleState,
    RuleStore,
    Span,
    StoredEpisode,
)
from hostpulse.services.alerts.rules import LOG, Rule, RuleSet
from hostpulse.services.alerts.silences import Silence, active_labels, alert_labels, silenced_by
from hostpulse.services.alerts.timeline import Episode, Point, Timeline, evaluate
from hostpulse.services.alerts.values import describe, rule_value, value_of

log = logging.getLogger(__name__)
# A sample is the series' value this long (Prometheus' lookback delta); then it is stale.
LOOKBACK_MS = 300_000
MARGIN_MS = 60_000
RETRY_BASE_S = 5.0
RETRY_CAP_S = 600.0
MAX_ATTEMPTS = 12


def horizon_ms(rule: Rule) -> int:
    """How far back the points of a rule matter for its state now."""
    return int((rule.for_ + rule.keep_firing_for) * 1000) + LOOKBACK_MS + MARGIN_MS


@dataclass
class Outcome:
    evaluated: int = 0
    fired: int = 0
    resolved: int = 0
    notifications: int = 0
    delivered: int = 0
    failed: int = 0
    resent: int = 0
    suppressed: int = 0


@dataclass(frozen=True)
class RuleOnHost:
    """One rule evaluated on one host, inside the host's transaction: what it fires, resolves
    and notifies goes to ``alerts`` and is counted in ``outcome``."""

    alerts: HostAlerts
    rule: Rule
    host: str
    now_ms: int
    outcome: Outcome

    def event(self, state: AlertState, ts_ms: int, value: float | None, summary: str) -> None:
        self.alerts.add_event(
            self.rule.name, EventRecord(state, ts_ms, value, self.rule.severity, summary)
        )

    def notify(
        self, episode_id: int, kind: NotificationKind, body: dict[str, Any], sequence: int = 0
    ) -> None:
        targets = tuple(self.rule.notify)
        self.alerts.notify(Notification(episode_id, kind, sequence, targets, body), self.now_ms)
        self.outcome.notifications += len(targets)

    def fire(self, episode: Episode) -> StoredEpisode | None:
        rule, value = self.rule, episode.fired_value
        annotations = describe(rule, self.host, value, "firing")
        new = NewEpisode(
            episode.started_ms,
            episode.fired_ms,
            value,
            rule.severity,
            dict(rule.labels),
            annotations,
        )
        episode_id = self.alerts.add_episode(rule.name, new)
        if episode_id is None:
            return None  # fired already, by a concurrent evaluation
        self.outcome.fired += 1
        self.event("firing", episode.fired_ms, value, annotations["summary"])
        span = Span(episode.started_ms, episode.fired_ms)
        body = payload(rule, self.host, "firing", span, value, annotations=annotations)
        self.notify(episode_id, "firing", body)
        return StoredEpisode(episode_id, episode.started_ms, episode.fired_ms, None, self.now_ms, 0)

    def resolve(self, episode: StoredEpisode, resolved_ms: int, value: float | None) -> None:
        annotations = describe(self.rule, self.host, value, "resolved")
        self.alerts.resolve_episode(episode.id, resolved_ms, value)
        self.event("resolved", resolved_ms, value, annotations["summary"])
        span = Span(episode.started_ms, episode.fired_ms, resolved_ms)
        body = payload(self.rule, self.host, "resolved", span, value, annotations=annotations)
        self.notify(episode.id, "resolved", body)
        self.outcome.resolved += 1

    def remind(self, episode: StoredEpisode) -> None:
        span = Span(episode.started_ms, episode.fired_ms)
        body = payload(self.rule, self.host, "reminder", span, None)
        self.notify(episode.id, "reminder", body, sequence=episode.reminders + 1)


class AlertService:
    def __init__(self, store: AlertStore, channels: dict[str, Channel]) -> None:
        self.store = store
        self.channels = channels

    # -- evaluation on batches ---------------------------------------------------------------

    def evaluate_batch(self, batch: Batch, now_ms: int) -> Outcome:
        def points(rule: Rule) -> list[Point]:
            return [
                Point(s.ts_ms, value, rule.breaches(value))
                for s in batch.samples
                if (value := rule_value(rule, s)) is not None
            ]

        newest_ms = max(s.ts_ms for s in batch.samples)
        host = batch.host
        return self._evaluate_host(host.hostname, dict(host.labels), newest_ms, points, now_ms)

    def evaluate_values(
        self, host: str, labels: dict[str, str], values: Mapping[str, float], now_ms: int
    ) -> Outcome:
        """Rules on values that come from no agent (the pipeline's own), as one sample at now."""

        def points(rule: Rule) -> list[Point]:
            value = value_of(rule, values.items())
            return [] if value is None else [Point(now_ms, value, rule.breaches(value))]

        return self._evaluate_host(host, labels, now_ms, points, now_ms)

    def _evaluate_host(
        self,
        host: str,
        labels: dict[str, str],
        newest_ms: int,
        points_of: Callable[[Rule], list[Point]],
        now_ms: int,
    ) -> Outcome:
        rules = self.store.rule_set()
        matching = [r for r in rules.rules if r.hosts.matches(host, labels)]
        outcome = Outcome()
        if not matching:
            return outcome
        with self.store.host(host) as alerts:
            watched = alerts.watched()
            for rule in matching:
                here = RuleOnHost(alerts, rule, host, now_ms, outcome)
                if rule.is_absent:
                    self._end_absence(here, newest_ms)
                    continue
                points = points_of(rule)
                # A healthy pair costs nothing: points are kept only around breaches.
                recent = watched.get(rule.name)
                near = recent is not None and newest_ms - recent <= horizon_ms(rule)
                if not points or not (near or any(p.breach for p in points)):
                    continue
                alerts.add_points(rule.name, points)
                self._evaluate(here)
        return outcome

    def _evaluate(self, here: RuleOnHost, until_ms: int | None = None) -> None:
        alerts, rule = here.alerts, here.rule
        here.outcome.evaluated += 1
        latest = alerts.latest_episode(rule.name)
        open_episode = latest if latest is not None and latest.resolved_ms is None else None
        newest = alerts.points(rule.name, 0)
        if not newest:
            return
        newest_ms = max(p.ts_ms for p in newest)
        since = newest_ms - horizon_ms(rule)
        if open_episode is not None:
            since = min(since, open_episode.started_ms)
        points = [p for p in newest if p.ts_ms >= since]
        timeline = evaluate(
            points, int(rule.for_ * 1000), int(rule.keep_firing_for * 1000), LOOKBACK_MS, until_ms
        )
        self._apply(here, timeline, latest)
        last_breach = max((p.ts_ms for p in points if p.breach), default=None)
        seen_to_ms = newest_ms if until_ms is None else max(newest_ms, until_ms)
        if timeline.state == "inactive" and (
            last_breach is None or seen_to_ms - last_breach > horizon_ms(rule)
        ):
            alerts.forget(rule.name)
        else:
            state = RuleState(
                timeline.state, timeline.pending_since_ms, last_breach, timeline.last_value
            )
            alerts.set_state(rule.name, state)
            alerts.prune(rule.name, since - horizon_ms(rule))

    def _apply(self, here: RuleOnHost, timeline: Timeline, latest: StoredEpisode | None) -> None:
        open_episode = latest if latest is not None and latest.resolved_ms is None else None
        floor_ms = -1 if latest is None else (latest.resolved_ms or latest.fired_ms)
        for episode in timeline.episodes:
            if open_episode is not None and _same(episode, open_episode):
                if episode.resolved_ms is not None:
                    here.resolve(open_episode, episode.resolved_ms, episode.resolved_value)
                    floor_ms, open_episode = episode.resolved_ms, None
                continue
            if episode.fired_ms <= floor_ms:
                continue  # known already: late data does not fire an old episode again
            if open_episode is not None:  # the computed past no longer holds the open one
                here.resolve(open_episode, episode.started_ms, None)
                open_episode = None
            new = here.fire(episode)
            if new is not None and episode.resolved_ms is not None:
                here.resolve(new, episode.resolved_ms, episode.resolved_value)
            elif new is not None:
                open_episode = new
            floor_ms = episode.resolved_ms or episode.fired_ms
        if (
            open_episode is not None
            and timeline.state != "firing"
            and timeline.last_ts_ms is not None
            and timeline.last_ts_ms > open_episode.fired_ms
        ):
            here.resolve(open_episode, timeline.last_ts_ms, timeline.last_value)
        if timeline.state == "pending" and timeline.pending_since_ms is not None:
            summary = describe(here.rule, here.host, timeline.last_value, "pending")["summary"]
            here.event("pending", timeline.pending_since_ms, timeline.last_value, summary)

    # -- rules that change ---------------------------------------------------------------------

    def retire(self, rule: Rule, replacement: Rule | None, now_ms: int) -> Outcome:
        """Resolve the alerts of a rule that was deleted (``replacement`` None) or replaced by
        one that no longer watches their host: nothing else would ever resolve them. A rule
        that still watches the host re-evaluates on its next batch."""
        outcome = Outcome()
        seen = self.store.last_seen()
        for host in self.store.hosts_with_open_episodes():
            labels = seen.get(host, (0, {}))[1]
            if replacement is not None and replacement.hosts.matches(host, labels):
                continue
            with self.store.host(host) as alerts:
                episode = alerts.open_episodes().get(rule.name)
                if episode is not None:
                    RuleOnHost(alerts, rule, host, now_ms, outcome).resolve(episode, now_ms, None)
                alerts.forget(rule.name)
        return outcome

    def host_left(self, host: str, now_ms: int) -> int:
        """A host retired or forgotten: what it still fires resolves now, told as any
        resolution, and what its rules watched is forgotten. How many resolved."""
        rules = {rule.name: rule for rule in self.store.rule_set().rules}
        outcome = Outcome()
        with self.store.host(host) as alerts:
            for name, episode in alerts.open_episodes().items():
                rule = rules.get(name)
                if rule is None:  # a rule gone since: nothing to tell it with
                    alerts.resolve_episode(episode.id, now_ms, None)
                    continue
                RuleOnHost(alerts, rule, host, now_ms, outcome).resolve(episode, now_ms, None)
            for name in rules:
                alerts.forget(name)
        return outcome.resolved

    # -- absent data and reminders, on a schedule ----------------------------------------------

    def _end_absence(self, here: RuleOnHost, newest_ms: int) -> None:
        latest = here.alerts.latest_episode(here.rule.name)
        if latest is not None and latest.resolved_ms is None and newest_ms > latest.started_ms:
            here.resolve(latest, newest_ms, None)

    def tick(self, now_ms: int) -> Outcome:
        """The schedule's work: hosts gone silent, reminders of what still fires, and
        notifications that could not be delivered before."""
        rules = self.store.rule_set()
        outcome = Outcome()
        hosts = self.store.last_seen()
        for host, (last_ms, labels) in hosts.items():
            for rule in rules.rules:
                if rule.is_absent and rule.hosts.matches(host, labels):
                    self._check_absence(rule, host, last_ms, now_ms, outcome)
        self._follow_to_now(rules, hosts, now_ms, outcome)
        self._remind(rules, self.store.hosts_with_open_episodes(), now_ms, outcome)
        ended = self.store.end_silences(now_ms)
        if ended:
            self.silences_ended(ended, now_ms, outcome)
        self._resend_firing(rules, outcome)
        delivered = self.deliver_due(now_ms)
        outcome.delivered, outcome.failed = delivered.delivered, delivered.failed
        outcome.suppressed = delivered.suppressed
        return outcome

    def silences_ended(
        self, ended: list[Silence], now_ms: int, outcome: Outcome | None = None
    ) -> Outcome:
        """What still fires that these silences held back, and no other silence holds now, is
        told again now (a reminder), as Alertmanager tells a group once its silence ends."""
        outcome = outcome or Outcome()
        rules = {rule.name: rule for rule in self.store.rule_set().rules}
        live = self.store.live_silences(now_ms)
        for alert in self.store.active():
            rule = rules.get(alert["rule"])
            if alert["state"] != "firing" or rule is None:
                continue
            labels = active_labels(alert)
            held_before = any(all(m.matches(labels) for m in s.matchers) for s in ended)
            if not held_before or silenced_by(live, labels, now_ms):
                continue
            with self.store.host(alert["host"]) as alerts:
                episode = alerts.open_episodes().get(rule.name)
                if episode is not None:
                    RuleOnHost(alerts, rule, alert["host"], now_ms, outcome).remind(episode)
        return outcome

    def _follow_to_now(
        self, rules: RuleSet, hosts: dict[str, tuple[int, dict[str, str]]], now_ms: int,
        outcome: Outcome,
    ) -> None:  # fmt: skip
        """What pends or fires, followed from its host's last value up to now, as Prometheus
        evaluates on while the series stays in sight: a run that lasts ``for`` on its last
        value fires, and a series stale for ``lookback`` ends pending runs and resolves what
        fires (after ``keep_firing_for``). Batches only ever take the state to their own
        newest sample: a batch that arrives late does not make a host's series stale."""
        by_name = {rule.name: rule for rule in rules.rules if not rule.is_absent}
        for host in sorted({alert["host"] for alert in self.store.active()}):
            labels = hosts.get(host, (0, {}))[1]
            with self.store.host(host) as alerts:
                for name in alerts.watched():
                    rule = by_name.get(name)
                    if rule is not None and rule.hosts.matches(host, labels):
                        self._evaluate(RuleOnHost(alerts, rule, host, now_ms, outcome), now_ms)

    def _check_absence(
        self, rule: Rule, host: str, last_ms: int, now_ms: int, outcome: Outcome
    ) -> None:
        assert rule.absent_for is not None
        if now_ms - last_ms < rule.absent_for * 1000:
            return
        with self.store.host(host) as alerts:
            latest = alerts.latest_episode(rule.name)
            if latest is not None and (latest.resolved_ms is None or latest.started_ms >= last_ms):
                return  # already firing for this silence
            silence = Episode(last_ms, now_ms, float(now_ms - last_ms) / 1000)
            RuleOnHost(alerts, rule, host, now_ms, outcome).fire(silence)

    def _remind(self, rules: RuleSet, hosts: list[str], now_ms: int, outcome: Outcome) -> None:
        by_name = {rule.name: rule for rule in rules.rules}
        for host in hosts:
            with self.store.host(host) as alerts:
                for name, episode in alerts.open_episodes().items():
                    rule = by_name.get(name)
                    if rule is None:
                        continue
                    last = episode.last_notified_ms or episode.fired_ms
                    if now_ms - last >= rule.repeat_interval * 1000:
                        RuleOnHost(alerts, rule, host, now_ms, outcome).remind(episode)

    def _resend_firing(self, rules: RuleSet, outcome: Outcome) -> None:
        """What fires, to the Alertmanagers its rule notifies, again on every tick, as
        Prometheus resends: each send is valid a few ticks, so an Alertmanager that restarted
        has it back within one, and one that stops hearing of it ends it by itself. Sent now
        or not at all: the next tick sends it again."""
        managers = {n.name: n for n in rules.notifiers if n.type == "alertmanager"}
        if not managers:
            return
        by_name = {rule.name: rule for rule in rules.rules}
        for alert in self.store.active():
            rule = by_name.get(alert["rule"])
            if alert["state"] != "firing" or rule is None or alert.get("rule_group"):
                continue
            started = alert["active_since_ms"]
            span = Span(started, alert.get("fired_at_ms", started))
            body = payload(rule, alert["host"], "reminder", span, alert["value"],
                           annotations=alert.get("annotations"))  # fmt: skip
            targets = [managers[t] for t in rule.notify if t in managers]
            outcome.resent += send_now(self.channels, targets, body)

    # -- delivery -------------------------------------------------------------------------------

    def deliver_due(self, now_ms: int, limit: int = 200) -> Outcome:
        """Send what is due; a failure is retried later with backoff and blocks nothing."""
        notifiers = {n.name: n for n in self.store.rule_set().notifiers} | {"log": LOG}
        outcome = Outcome()
        silences: list[Silence] | None = None  # read once, when something is due
        for delivery in self.store.due_deliveries(now_ms, limit):
            notifier = notifiers.get(delivery.target)
            if notifier is None:
                self.store.failed(delivery.id, f"unknown target {delivery.target!r}", None)
                outcome.failed += 1
                continue
            if silences is None:
                silences = self.store.live_silences(now_ms)
            if self._held_back(delivery, silences, now_ms):
                outcome.suppressed += 1
                continue
            try:
                self.channels[notifier.type].send(notifier, delivery.payload)
            except Exception as error:
                attempt = delivery.attempts + 1
                wait_s = random.uniform(0, min(RETRY_CAP_S, RETRY_BASE_S * 2**attempt))
                retry_at = None if attempt >= MAX_ATTEMPTS else now_ms + int(wait_s * 1000)
                self.store.failed(delivery.id, f"{type(error).__name__}: {error}", retry_at)
                log.warning(
                    "notification failed",
                    extra={"target": delivery.target, "attempt": attempt, "error": str(error)},
                )
                outcome.failed += 1
                continue
            self.store.delivered(delivery.id, now_ms)
            outcome.delivered += 1
        return outcome

    def _held_back(self, delivery: Delivery, silences: list[Silence], now_ms: int) -> bool:
        """Whether a silence holds this notification back (recorded so). A resolution whose
        alert was told before is sent all the same: its target would keep it open for ever."""
        held = silenced_by(silences, alert_labels(delivery.payload), now_ms)
        if not held or (delivery.kind == "resolved" and self.store.told_before(delivery.id)):
            return False
        self.store.suppressed(delivery.id, held[0], now_ms)
        return True


def _same(computed: Episode, stored: StoredEpisode) -> bool:
    """The computed episode is the stored one when it spans the moment the stored one fired."""
    ends = computed.resolved_ms if computed.resolved_ms is not None else float("inf")
    return computed.started_ms <= stored.fired_ms <= ends


def replace_rule_file(store: RuleStore, rule_set: RuleSet, now_ms: int) -> None:
    """A rule file's rules replace the previous file's (`hostpulse up` and `hostpulse alerts
    load` alike); a rule taken out of the file, or changed, must not leave its alerts firing
    forever, so what it no longer fires resolves now."""
    before = {rule.name: rule for rule in store.rule_set().rules}
    store.replace_file_rules(rule_set)
    after = {rule.name: rule for rule in store.rule_set().rules}
    retiring = AlertService(store, {})
    for name, rule in before.items():
        if after.get(name) != rule:
            retiring.retire(rule, after.get(name), now_ms)
