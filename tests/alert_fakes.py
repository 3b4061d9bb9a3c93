"""In-memory alert storage and channels for unit tests of the alert service."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hostpulse.core.contract import Batch
from hostpulse.core.responses import ActiveAlert
from hostpulse.services.alerts.ports import (
    AlertKey,
    Delivery,
    EventRecord,
    NewEpisode,
    Notification,
    NotificationKind,
    OpenAlert,
    RuleState,
    StoredEpisode,
    StoredGroup,
)
from hostpulse.services.alerts.prometheus_rules import RuleGroup
from hostpulse.services.alerts.rules import Notifier, RuleSet
from hostpulse.services.alerts.silences import NewSilence, Silence
from hostpulse.services.alerts.timeline import Point


@dataclass
class EpisodeRow:
    id: int
    rule: str
    host: str
    started_ms: int
    fired_ms: int
    resolved_ms: int | None = None
    last_notified_ms: int | None = None
    reminders: int = 0
    fired: NewEpisode | None = None

    def stored(self) -> StoredEpisode:
        return StoredEpisode(
            self.id,
            self.started_ms,
            self.fired_ms,
            self.resolved_ms,
            self.last_notified_ms,
            self.reminders,
        )


@dataclass
class Outbox:
    id: int
    key: tuple[int, NotificationKind, int, str]
    payload: dict[str, Any]
    next_ms: int
    attempts: int = 0
    delivered_ms: int | None = None
    error: str | None = None
    suppressed_by: int | None = None


@dataclass
class MemoryAlertStore:
    rules: RuleSet
    seen: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    state: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    points: dict[tuple[str, str], dict[int, Point]] = field(default_factory=dict)
    episodes: list[EpisodeRow] = field(default_factory=list)
    events: set[tuple[str, str, str, int]] = field(default_factory=set)
    outbox: list[Outbox] = field(default_factory=list)
    silences: list[Silence] = field(default_factory=list)

    def rule_set(self) -> RuleSet:
        return self.rules

    @contextlib.contextmanager
    def host(self, host: str) -> Iterator[MemoryHostAlerts]:
        yield MemoryHostAlerts(self, host)

    def last_seen(self) -> dict[str, tuple[int, dict[str, str]]]:
        return dict(self.seen)

    def hosts_with_open_episodes(self) -> list[str]:
        return sorted({e.host for e in self.episodes if e.resolved_ms is None})

    def active(self) -> list[ActiveAlert]:
        """What fires, then what is pending."""
        firing: list[ActiveAlert] = [
            {
                "rule": e.rule, "host": e.host, "state": "firing", "active_since_ms": e.started_ms,
                "fired_at_ms": e.fired_ms, "value": e.fired.value, "severity": e.fired.severity,
                "labels": e.fired.labels, "annotations": e.fired.annotations,
            }
            for e in self.episodes
            if e.resolved_ms is None and e.fired is not None
        ]  # fmt: skip
        pending: list[ActiveAlert] = [
            {"rule": rule, "host": host, "state": "pending", "active_since_ms": row["since"],
             "value": row["value"]}
            for (rule, host), row in self.state.items()
            if row["state"] == "pending"
        ]  # fmt: skip
        return firing + pending

    def due_deliveries(self, now_ms: int, limit: int) -> list[Delivery]:
        due = [o for o in self.outbox if o.delivered_ms is None and o.next_ms <= now_ms]
        return [Delivery(o.id, o.key[3], o.payload, o.attempts, o.key[1]) for o in due[:limit]]

    def delivered(self, delivery_id: int, now_ms: int) -> None:
        row = self.outbox[delivery_id]
        row.delivered_ms, row.attempts = now_ms, row.attempts + 1

    def failed(self, delivery_id: int, error: str, retry_at_ms: int | None) -> None:
        row = self.outbox[delivery_id]
        row.attempts, row.error = row.attempts + 1, error
        row.next_ms = retry_at_ms if retry_at_ms is not None else 2**62

    def add_silence(self, silence: NewSilence, now_ms: int) -> Silence:
        s = silence
        added = Silence(len(self.silences), s.matchers, s.starts_ms, s.ends_ms, s.comment,
                        s.created_by, now_ms)  # fmt: skip
        self.silences.append(added)
        return added

    def live_silences(self, now_ms: int) -> list[Silence]:
        return [s for s in self.silences if s.expired_ms is None and s.ends_ms > now_ms]

    def end_silences(self, now_ms: int) -> list[Silence]:
        ended = []
        for i, s in enumerate(self.silences):
            if s.expired_ms is None and s.ends_ms <= now_ms:
                self.silences[i] = replace(s, expired_ms=s.ends_ms, expired_by="its end")
                ended.append(self.silences[i])
        return ended

    def suppressed(self, delivery_id: int, silence_id: int, now_ms: int) -> None:
        row = self.outbox[delivery_id]
        row.delivered_ms, row.suppressed_by = now_ms, silence_id

    def told_before(self, delivery_id: int) -> bool:
        row = self.outbox[delivery_id]
        return any(
            (o.key[0], o.key[3]) == (row.key[0], row.key[3]) and o.key[1] != "resolved"
            and o.delivered_ms is not None and o.suppressed_by is None
            for o in self.outbox
        )  # fmt: skip


@dataclass
class MemoryHostAlerts:
    store: MemoryAlertStore
    host: str

    def watched(self) -> dict[str, int]:
        return {
            rule: row["last_breach"]
            for (rule, host), row in self.store.state.items()
            if host == self.host and row["last_breach"] is not None
        }

    def add_points(self, rule: str, points: list[Point]) -> None:
        stored = self.store.points.setdefault((rule, self.host), {})
        stored.update({p.ts_ms: p for p in points})

    def points(self, rule: str, since_ms: int) -> list[Point]:
        stored = self.store.points.get((rule, self.host), {})
        return [stored[ts] for ts in sorted(stored) if ts >= since_ms]

    def prune(self, rule: str, before_ms: int) -> None:
        stored = self.store.points.get((rule, self.host), {})
        for ts in [ts for ts in stored if ts < before_ms]:
            del stored[ts]

    def set_state(self, rule: str, state: RuleState) -> None:
        previous = self.store.state.get((rule, self.host), {}).get("last_breach")
        last_breach = state.last_breach_ms
        self.store.state[(rule, self.host)] = {
            "state": state.state,
            "last_breach": last_breach if last_breach is not None else previous,
            "since": state.pending_since_ms,
            "value": state.last_value,
        }

    def forget(self, rule: str) -> None:
        self.store.state.pop((rule, self.host), None)
        self.store.points.pop((rule, self.host), None)

    def _mine(self, rule: str) -> list[EpisodeRow]:
        return [e for e in self.store.episodes if (e.rule, e.host) == (rule, self.host)]

    def latest_episode(self, rule: str) -> StoredEpisode | None:
        rows = sorted(self._mine(rule), key=lambda e: e.fired_ms)
        return rows[-1].stored() if rows else None

    def open_episodes(self) -> dict[str, StoredEpisode]:
        return {
            e.rule: e.stored()
            for e in self.store.episodes
            if e.host == self.host and e.resolved_ms is None
        }

    def add_episode(self, rule: str, episode: NewEpisode) -> int | None:
        if any(e.started_ms == episode.started_ms for e in self._mine(rule)):
            return None
        row = EpisodeRow(
            len(self.store.episodes), rule, self.host, episode.started_ms, episode.fired_ms,
            fired=episode,
        )  # fmt: skip
        self.store.episodes.append(row)
        return row.id

    def resolve_episode(self, episode_id: int, resolved_ms: int, value: float | None) -> None:
        row = self.store.episodes[episode_id]
        if row.resolved_ms is None:
            row.resolved_ms = resolved_ms

    def add_event(self, rule: str, event: EventRecord) -> None:
        self.store.events.add((rule, self.host, event.state, event.ts_ms))

    def notify(self, notification: Notification, now_ms: int) -> None:
        n = notification
        for target in n.targets:
            key = (n.episode_id, n.kind, n.sequence, target)
            if all(o.key != key for o in self.store.outbox):
                self.store.outbox.append(Outbox(len(self.store.outbox), key, n.payload, now_ms))
        row = self.store.episodes[n.episode_id]
        row.last_notified_ms = now_ms
        row.reminders += n.kind == "reminder"


@dataclass
class RecordingChannel:
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: int = 0

    def send(self, notifier: Notifier, payload: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("webhook down")
        self.sent.append((notifier.name, payload))


@dataclass
class GroupEpisode:
    id: int
    key: AlertKey
    group: str
    fired: NewEpisode
    resolved_ms: int | None = None


@dataclass
class MemoryRuleGroups:
    """Rule groups, their alerts' episodes, events and notifications, in memory."""

    groups: dict[str, StoredGroup] = field(default_factory=dict)
    episodes: list[GroupEpisode] = field(default_factory=list)
    events: list[tuple[AlertKey, EventRecord]] = field(default_factory=list)
    outbox: list[Notification] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)  # held by another run

    def group_names(self) -> list[str]:
        return list(self.groups)

    @contextlib.contextmanager
    def group_run(self, name: str) -> Iterator[MemoryGroupRun | None]:
        found = self.groups.get(name)
        yield None if found is None or name in self.busy else MemoryGroupRun(self, found)

    def stored_groups(self) -> list[StoredGroup]:
        return list(self.groups.values())

    def replace_groups(
        self, groups: list[RuleGroup], notify: tuple[str, ...], *, keep_others: bool = False
    ) -> list[str]:
        before = dict(self.groups)
        self.groups = dict(before) if keep_others else {}
        for group in groups:
            prior = before.get(group.name)
            self.groups[group.name] = StoredGroup(
                group.name, group, notify, prior.evaluated_ms if prior else None,
                prior.state if prior else {},
            )  # fmt: skip
        if keep_others:
            return []
        gone = [name for name in before if name not in self.groups]
        for name in gone:
            empty = before[name].group.model_copy(update={"rules": []})
            self.groups[name] = replace(before[name], group=empty)
        return gone

    def drop_group(self, name: str) -> None:
        self.groups.pop(name, None)

    def open_alerts(self, group: str) -> list[GroupEpisode]:
        return [e for e in self.episodes if e.group == group and e.resolved_ms is None]


@dataclass
class MemoryGroupRun:
    store: MemoryRuleGroups
    stored: StoredGroup

    def open_alerts(self) -> dict[str, OpenAlert]:
        return {
            e.key.fingerprint: OpenAlert(
                StoredEpisode(e.id, e.fired.started_ms, e.fired.fired_ms, None, None, 0),
                e.fired.labels, e.fired.annotations,
            )
            for e in self.store.open_alerts(self.stored.name)
        }  # fmt: skip

    def add_episode(self, key: AlertKey, episode: NewEpisode) -> int | None:
        if any((e.key, e.fired.started_ms) == (key, episode.started_ms)
               for e in self.store.episodes):  # fmt: skip
            return None
        self.store.episodes.append(
            GroupEpisode(len(self.store.episodes), key, self.stored.name, episode)
        )
        return len(self.store.episodes) - 1

    def resolve_episode(self, episode_id: int, resolved_ms: int, value: float | None) -> None:
        episode = self.store.episodes[episode_id]
        if episode.resolved_ms is None:
            episode.resolved_ms = resolved_ms

    def add_event(self, key: AlertKey, event: EventRecord) -> None:
        if (key, event) not in self.store.events:
            self.store.events.append((key, event))

    def notify(self, notification: Notification, now_ms: int) -> None:
        self.store.outbox.append(notification)

    def save(self, evaluated_ms: int | None, state: dict[str, Any]) -> None:
        # Through JSON, as PostgreSQL keeps it: what does not survive that is a fault.
        kept = json.loads(json.dumps(state, allow_nan=False))
        self.stored = replace(self.stored, evaluated_ms=evaluated_ms, state=kept)
        self.store.groups[self.stored.name] = self.stored


Vector = list[tuple[dict[str, str], float]]


class ScriptedQuery:
    """Answers each expression from a script: per expression, the vector at each time (the
    newest entry at or before it); an exception is raised."""

    def __init__(self, script: dict[str, dict[int, Vector | Exception]]) -> None:
        self.script = script
        self.asked: list[tuple[str, int]] = []

    def __call__(self, expr: str, at_ms: int) -> Vector:
        self.asked.append((expr, at_ms))
        times = [t for t in self.script.get(expr, {}) if t <= at_ms]
        answer = self.script[expr][max(times)] if times else []
        if isinstance(answer, Exception):
            raise answer
        return answer


class MemoryRecorder:
    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def write_batches(self, batches: Sequence[Batch]) -> Sequence[object]:
        self.batches += batches
        return list(batches)
