"""Alert evaluation: a batch's samples against every rule for its host, firings kept once in
PostgreSQL however many instances run, and notifications delivered after the fact."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hostpulse.alerts.ports import (
    AlertStore,
    Channel,
    HostAlerts,
    NotificationKind,
    RuleStore,
    StoredEpisode,
)
from hostpulse.alerts.rules import LOG, Rule, RuleSet
from hostpulse.alerts.timeline import Episode, Point, Timeline, evaluate
from hostpulse.alerts.values import describe, rule_value
from hostpulse.contract import Batch

log = logging.getLogger(__name__)
MAX_GAP_MS = 60_000  # a longer silence breaks a pending run (absent rules watch silence)
MARGIN_MS = 60_000
RETRY_BASE_S = 5.0
RETRY_CAP_S = 600.0
MAX_ATTEMPTS = 12


def iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def horizon_ms(rule: Rule) -> int:
    """How far back the points of a rule matter for its state now."""
    return int((rule.for_ + rule.keep_firing_for) * 1000) + MAX_GAP_MS + MARGIN_MS


@dataclass
class Outcome:
    evaluated: int = 0
    fired: int = 0
    resolved: int = 0
    notifications: int = 0
    delivered: int = 0
    failed: int = 0


def payload(
    rule: Rule,
    host: str,
    kind: NotificationKind,
    started_ms: int,
    fired_ms: int,
    resolved_ms: int | None,
    value: float | None,
    annotations: dict[str, str],
) -> dict[str, Any]:
    """The generic JSON body of a notification (webhook, SNS, log); Slack gets a text of it."""
    return {
        "version": 1,
        "status": "resolved" if kind == "resolved" else "firing",
        "kind": kind,
        "rule": rule.name,
        "host": host,
        "severity": rule.severity,
        "value": value,
        "threshold": rule.threshold,
        "started_at": iso(started_ms),
        "fired_at": iso(fired_ms),
        "resolved_at": iso(resolved_ms),
        "labels": {**rule.labels, "alertname": rule.name, "host": host},
        "annotations": annotations,
        "summary": annotations.get("summary", rule.name),
    }


class AlertService:
    def __init__(self, store: AlertStore, channels: dict[str, Channel]) -> None:
        self.store = store
        self.channels = channels

    # -- evaluation on batches ---------------------------------------------------------------

    def evaluate_batch(self, batch: Batch, now_ms: int) -> Outcome:
        rules = self.store.rule_set()
        host = batch.host.hostname
        labels = dict(batch.host.labels)
        matching = [r for r in rules.rules if r.hosts.matches(host, labels)]
        outcome = Outcome()
        if not matching:
            return outcome
        newest_ms = max(s.ts_ms for s in batch.samples)
        with self.store.host(host) as alerts:
            watched = alerts.watched()
            for rule in matching:
                if rule.is_absent:
                    self._end_absence(alerts, rule, host, newest_ms, outcome, now_ms)
                    continue
                points = [
                    Point(s.ts_ms, value, rule.breaches(value))
                    for s in batch.samples
                    if (value := rule_value(rule, s)) is not None
                ]
                # A healthy pair costs nothing: points are kept only around breaches.
                recent = watched.get(rule.name)
                near = recent is not None and newest_ms - recent <= horizon_ms(rule)
                if not points or not (near or any(p.breach for p in points)):
                    continue
                alerts.add_points(rule.name, points)
                self._evaluate(alerts, rule, host, now_ms, outcome)
        return outcome

    def _evaluate(
        self, alerts: HostAlerts, rule: Rule, host: str, now_ms: int, outcome: Outcome
    ) -> None:
        outcome.evaluated += 1
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
            points, int(rule.for_ * 1000), int(rule.keep_firing_for * 1000), MAX_GAP_MS
        )
        self._apply(alerts, rule, host, timeline, latest, now_ms, outcome)
        last_breach = max((p.ts_ms for p in points if p.breach), default=None)
        if timeline.state == "inactive" and (
            last_breach is None or newest_ms - last_breach > horizon_ms(rule)
        ):
            alerts.forget(rule.name)
        else:
            alerts.set_state(
                rule.name,
                timeline.state,
                timeline.pending_since_ms,
                last_breach,
                timeline.last_value,
            )
            alerts.prune(rule.name, since - horizon_ms(rule))

    def _apply(
        self,
        alerts: HostAlerts,
        rule: Rule,
        host: str,
        timeline: Timeline,
        latest: StoredEpisode | None,
        now_ms: int,
        outcome: Outcome,
    ) -> None:
        open_episode = latest if latest is not None and latest.resolved_ms is None else None
        floor_ms = -1 if latest is None else (latest.resolved_ms or latest.fired_ms)
        for episode in timeline.episodes:
            if open_episode is not None and _same(episode, open_episode):
                if episode.resolved_ms is not None:
                    self._resolve(
                        alerts,
                        rule,
                        host,
                        open_episode,
                        episode.resolved_ms,
                        episode.resolved_value,
                        now_ms,
                        outcome,
                    )
                    floor_ms, open_episode = episode.resolved_ms, None
                continue
            if episode.fired_ms <= floor_ms:
                continue  # known already: late data does not fire an old episode again
            if open_episode is not None:  # the computed past no longer holds the open one
                self._resolve(
                    alerts, rule, host, open_episode, episode.started_ms, None, now_ms, outcome
                )
                open_episode = None
            new = self._fire(alerts, rule, host, episode, now_ms, outcome)
            if new is not None and episode.resolved_ms is not None:
                self._resolve(
                    alerts,
                    rule,
                    host,
                    new,
                    episode.resolved_ms,
                    episode.resolved_value,
                    now_ms,
                    outcome,
                )
            elif new is not None:
                open_episode = new
            floor_ms = episode.resolved_ms or episode.fired_ms
        if (
            open_episode is not None
            and timeline.state != "firing"
            and timeline.last_ts_ms is not None
            and timeline.last_ts_ms > open_episode.fired_ms
        ):
            self._resolve(
                alerts,
                rule,
                host,
                open_episode,
                timeline.last_ts_ms,
                timeline.last_value,
                now_ms,
                outcome,
            )
        if timeline.state == "pending" and timeline.pending_since_ms is not None:
            summary = describe(rule, host, timeline.last_value, "pending")["summary"]
            alerts.add_event(
                rule.name,
                "pending",
                timeline.pending_since_ms,
                timeline.last_value,
                rule.severity,
                summary,
            )

    def _fire(
        self,
        alerts: HostAlerts,
        rule: Rule,
        host: str,
        episode: Episode,
        now_ms: int,
        outcome: Outcome,
    ) -> StoredEpisode | None:
        annotations = describe(rule, host, episode.fired_value, "firing")
        episode_id = alerts.add_episode(
            rule.name,
            episode.started_ms,
            episode.fired_ms,
            episode.fired_value,
            rule.severity,
            dict(rule.labels),
            annotations,
        )
        if episode_id is None:
            return None
        outcome.fired += 1
        alerts.add_event(
            rule.name,
            "firing",
            episode.fired_ms,
            episode.fired_value,
            rule.severity,
            annotations["summary"],
        )
        body = payload(
            rule,
            host,
            "firing",
            episode.started_ms,
            episode.fired_ms,
            None,
            episode.fired_value,
            annotations,
        )
        alerts.notify(episode_id, "firing", 0, rule.notify, body, now_ms)
        outcome.notifications += len(rule.notify)
        return StoredEpisode(episode_id, episode.started_ms, episode.fired_ms, None, now_ms, 0)

    def _resolve(
        self,
        alerts: HostAlerts,
        rule: Rule,
        host: str,
        episode: StoredEpisode,
        resolved_ms: int,
        value: float | None,
        now_ms: int,
        outcome: Outcome,
    ) -> None:
        annotations = describe(rule, host, value, "resolved")
        alerts.resolve_episode(episode.id, resolved_ms, value)
        alerts.add_event(
            rule.name, "resolved", resolved_ms, value, rule.severity, annotations["summary"]
        )
        body = payload(
            rule,
            host,
            "resolved",
            episode.started_ms,
            episode.fired_ms,
            resolved_ms,
            value,
            annotations,
        )
        alerts.notify(episode.id, "resolved", 0, rule.notify, body, now_ms)
        outcome.resolved += 1
        outcome.notifications += len(rule.notify)

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
                    self._resolve(alerts, rule, host, episode, now_ms, None, now_ms, outcome)
                alerts.forget(rule.name)
        return outcome

    # -- absent data and reminders, on a schedule ----------------------------------------------

    def _end_absence(
        self,
        alerts: HostAlerts,
        rule: Rule,
        host: str,
        newest_ms: int,
        outcome: Outcome,
        now_ms: int,
    ) -> None:
        latest = alerts.latest_episode(rule.name)
        if latest is not None and latest.resolved_ms is None and newest_ms > latest.started_ms:
            self._resolve(alerts, rule, host, latest, newest_ms, None, now_ms, outcome)

    def tick(self, now_ms: int) -> Outcome:
        """The schedule's work: hosts gone silent, reminders of what still fires, and
        notifications that could not be delivered before."""
        rules = self.store.rule_set()
        outcome = Outcome()
        hosts = self.store.last_seen()
        for host, (last_ms, labels) in hosts.items():
            for rule in rules.rules:
                if not rule.hosts.matches(host, labels):
                    continue
                if rule.is_absent:
                    self._check_absence(rule, host, last_ms, now_ms, outcome)
        self._remind(rules, self.store.hosts_with_open_episodes(), now_ms, outcome)
        delivered = self.deliver_due(now_ms)
        outcome.delivered, outcome.failed = delivered.delivered, delivered.failed
        return outcome

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
            self._fire(
                alerts,
                rule,
                host,
                Episode(last_ms, now_ms, float(now_ms - last_ms) / 1000),
                now_ms,
                outcome,
            )

    def _remind(
        self,
        rules: RuleSet,
        hosts: list[str],
        now_ms: int,
        outcome: Outcome,
    ) -> None:
        by_name = {rule.name: rule for rule in rules.rules}
        for host in hosts:
            with self.store.host(host) as alerts:
                for name, episode in alerts.open_episodes().items():
                    rule = by_name.get(name)
                    if rule is None:
                        continue
                    last = episode.last_notified_ms or episode.fired_ms
                    if now_ms - last < rule.repeat_interval * 1000:
                        continue
                    annotations = describe(rule, host, None, "firing")
                    body = payload(
                        rule,
                        host,
                        "reminder",
                        episode.started_ms,
                        episode.fired_ms,
                        None,
                        None,
                        annotations,
                    )
                    alerts.notify(
                        episode.id, "reminder", episode.reminders + 1, rule.notify, body, now_ms
                    )
                    outcome.notifications += len(rule.notify)

    # -- delivery -------------------------------------------------------------------------------

    def deliver_due(self, now_ms: int, limit: int = 200) -> Outcome:
        """Send what is due; a failure is retried later with backoff and blocks nothing."""
        notifiers = {n.name: n for n in self.store.rule_set().notifiers} | {"log": LOG}
        outcome = Outcome()
        for delivery in self.store.due_deliveries(now_ms, limit):
            notifier = notifiers.get(delivery.target)
            if notifier is None:
                self.store.failed(delivery.id, f"unknown target {delivery.target!r}", None)
                outcome.failed += 1
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
