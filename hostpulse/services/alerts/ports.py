"""What alert evaluation needs from storage and from the world; adapters implement these."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from hostpulse.core.contract import Batch
from hostpulse.core.responses import ActiveAlert, AlertEvent, AlertState, RuleEntry
from hostpulse.services.alerts.prometheus_rules import RuleGroup
from hostpulse.services.alerts.rules import Notifier, Rule, RuleSet
from hostpulse.services.alerts.silences import NewSilence, Silence
from hostpulse.services.alerts.timeline import Point

NotificationKind = Literal["firing", "resolved", "reminder"]


@dataclass(frozen=True)
class StoredEpisode:
    id: int
    started_ms: int
    fired_ms: int
    resolved_ms: int | None
    last_notified_ms: int | None
    reminders: int


@dataclass(frozen=True)
class Span:
    """When an episode started breaching, fired, and (once it has) resolved."""

    started_ms: int
    fired_ms: int
    resolved_ms: int | None = None


@dataclass(frozen=True)
class RuleState:
    """Where one rule stands on one host between batches."""

    state: str
    pending_since_ms: int | None
    last_breach_ms: int | None
    last_value: float | None


@dataclass(frozen=True)
class NewEpisode:
    started_ms: int
    fired_ms: int
    value: float | None
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True)
class EventRecord:
    """One transition in the alert history."""

    state: AlertState
    ts_ms: int
    value: float | None
    severity: str
    summary: str


@dataclass(frozen=True)
class Notification:
    """One notification of an episode, to each of its targets, kept until delivered."""

    episode_id: int
    kind: NotificationKind
    sequence: int
    targets: tuple[str, ...]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    id: int
    target: str
    payload: dict[str, Any]
    attempts: int
    kind: NotificationKind = "firing"


class HostAlerts(Protocol):
    """One host's alert rows inside one transaction, with the host's evaluations serialized."""

    def watched(self) -> dict[str, int]:
        """Rules with a recent breach on this host: rule -> last breach (ms)."""

    def add_points(self, rule: str, points: list[Point]) -> None: ...

    def points(self, rule: str, since_ms: int) -> list[Point]: ...

    def prune(self, rule: str, before_ms: int) -> None: ...

    def set_state(self, rule: str, state: RuleState) -> None: ...

    def forget(self, rule: str) -> None:
        """The pair is healthy again: no state row, no points."""

    def latest_episode(self, rule: str) -> StoredEpisode | None: ...

    def open_episodes(self) -> dict[str, StoredEpisode]: ...

    def add_episode(self, rule: str, episode: NewEpisode) -> int | None:
        """The new episode's id; None when it exists already (a concurrent evaluation)."""

    def resolve_episode(self, episode_id: int, resolved_ms: int, value: float | None) -> None: ...

    def add_event(self, rule: str, event: EventRecord) -> None: ...

    def notify(self, notification: Notification, now_ms: int) -> None: ...


class AlertStore(Protocol):
    def rule_set(self) -> RuleSet: ...

    def host(self, host: str) -> AbstractContextManager[HostAlerts]: ...

    def last_seen(self) -> dict[str, tuple[int, dict[str, str]]]:
        """Every known host: last seen (ms) and labels."""

    def hosts_with_open_episodes(self) -> list[str]: ...

    def active(self) -> list[ActiveAlert]:
        """What fires (with its labels, annotations and value when it fired) and what is
        pending."""

    def due_deliveries(self, now_ms: int, limit: int) -> list[Delivery]: ...

    def delivered(self, delivery_id: int, now_ms: int) -> None: ...

    def failed(self, delivery_id: int, error: str, retry_at_ms: int | None) -> None: ...

    def live_silences(self, now_ms: int) -> list[Silence]:
        """The silences that have not ended: active, and pending (starting later)."""

    def end_silences(self, now_ms: int) -> list[Silence]:
        """Record the silences whose end has come as expired; those."""

    def suppressed(self, delivery_id: int, silence_id: int, now_ms: int) -> None:
        """The delivery is done without sending: a silence held it back."""

    def told_before(self, delivery_id: int) -> bool:
        """Whether this delivery's alert was sent to its target before, not held back."""


class RuleStore(AlertStore, Protocol):
    """The rules as operators manage them, and the alerts as the API reads them."""

    def replace_file_rules(self, rule_set: RuleSet) -> None:
        """A rule file's rules and targets replace the previous file's; API rules stay."""

    def put_rule(self, rule: Rule) -> None: ...

    def delete_rule(self, name: str) -> bool: ...

    def rules_with_source(self) -> list[RuleEntry]: ...

    def add_silence(self, silence: NewSilence, now_ms: int) -> Silence: ...

    def silences_since(self, since_ms: int, limit: int) -> list[Silence]:
        """The live silences, and those that stopped since ``since_ms``, newest first."""

    def expire_silence(self, silence_id: int, by: str, now_ms: int) -> Silence | None:
        """End it now; None when there is no such silence or it has ended already."""

    def silence(self, silence_id: int) -> Silence | None: ...

    def history(  # noqa: PLR0913, PLR0917 -- each is a filter of the same query
        self,
        start_ms: int,
        end_ms: int,
        host: str | None,
        rule: str | None,
        limit: int,
        states: Sequence[AlertState] = (),
    ) -> list[AlertEvent]:
        """The newest ``limit`` transitions in the span, newest first; ``states`` (none: every
        state) is filtered before the limit counts."""


@dataclass(frozen=True)
class AlertKey:
    """Which alert of a Prometheus rule group an episode or event is: its rule (alertname),
    its host (its ``host`` label, '' for none) and its label set's fingerprint."""

    rule: str
    host: str
    fingerprint: str


@dataclass(frozen=True)
class OpenAlert:
    """A group's alert that fires, as stored: its episode, labels and annotations."""

    episode: StoredEpisode
    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True)
class StoredGroup:
    name: str
    group: RuleGroup
    notify: tuple[str, ...]
    evaluated_ms: int | None
    state: dict[str, Any]


class GroupRun(Protocol):
    """One rule group's rows inside one transaction, its evaluations serialized."""

    @property
    def stored(self) -> StoredGroup: ...

    def open_alerts(self) -> dict[str, OpenAlert]:
        """The group's alerts that fire, by fingerprint."""

    def add_episode(self, key: AlertKey, episode: NewEpisode) -> int | None:
        """The new episode's id; None when it is stored already."""

    def resolve_episode(self, episode_id: int, resolved_ms: int, value: float | None) -> None: ...

    def add_event(self, key: AlertKey, event: EventRecord) -> None: ...

    def notify(self, notification: Notification, now_ms: int) -> None: ...

    def save(self, evaluated_ms: int | None, state: dict[str, Any]) -> None: ...


class RuleGroupStore(Protocol):
    def group_names(self) -> list[str]: ...

    def group_run(self, name: str) -> AbstractContextManager[GroupRun | None]:
        """The group, locked for this run; None when it is gone or another run holds it."""

    def stored_groups(self) -> list[StoredGroup]: ...

    def replace_groups(
        self, groups: list[RuleGroup], notify: tuple[str, ...], *, keep_others: bool = False
    ) -> list[str]:
        """These groups, in this order, replace the loaded ones (``keep_others``: only those of
        the same names); a group of the same name keeps its state. The names of the groups
        taken out (kept, empty, until their alerts are resolved: ``drop_group``)."""

    def drop_group(self, name: str) -> None: ...


class Recorder(Protocol):
    """Stores what recording rules computed, as series (the metric store's own writing)."""

    def write_batches(self, batches: Sequence[Batch]) -> Sequence[object]: ...


class Channel(Protocol):
    """Sends one notification to one target; raises when it was not accepted."""

    def send(self, notifier: Notifier, payload: dict[str, Any]) -> None: ...


class PipelineCheck(Protocol):
    """The pipeline's look at itself on each tick, its figures through the rules; its status
    ("ok", "degraded"...), or "unknown" when it could not look."""

    def __call__(self, now_ms: int) -> str: ...
