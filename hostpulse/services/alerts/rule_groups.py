"""Prometheus rule groups, run by the alerts schedule.

Each run evaluates a group at every step of its interval since its last evaluation: the steps
lie on the interval's grid since the epoch, so a 15 s group is evaluated at :00, :15, :30 and
:45 of each minute even when the schedule runs once a minute (told up to a run late). A run
catches up at most ``MAX_STEPS`` steps; older ones are skipped, as Prometheus skips the
iterations it missed. In a step the rules run in their order, as in Prometheus: a recording
rule's results are stored before the next rule reads them.

An alert is a label set, not a host: its episodes and events carry its fingerprint, and its
host is its ``host`` label ('' for none). What fires and resolves is told through the same
outbox, silences and history as hostpulse's own rules."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from hostpulse.services.alerts.notification_body import alert_body, send_now
from hostpulse.services.alerts.ports import (
    AlertKey,
    Channel,
    EventRecord,
    GroupRun,
    NewEpisode,
    Notification,
    Recorder,
    RuleGroupStore,
    Span,
)
from hostpulse.services.alerts.prometheus_rules import (
    AlertingRule,
    PrometheusRuleFile,
    RecordingRule,
    RuleGroup,
)
from hostpulse.services.alerts.rule_evaluation import AlertingRuleState, Query, RuleAlert
from hostpulse.services.alerts.rules import LOG, Notifier, RuleSet
from hostpulse.services.alerts.service import Outcome
from hostpulse.services.ingest.remote_write.series import HostRule, host_batches, made_of
from hostpulse.services.promql.model import PromQLError
from hostpulse.services.promql.service import PromQLService

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 60.0
MAX_STEPS = 20
RECORDER = "rules"  # what recorded batches are numbered by, per host
HOSTS = HostRule()


def instant_query(promql: PromQLService) -> Query:
    """A rule's expression at a time, as Prometheus' rule manager asks its engine: a scalar is
    one sample without labels."""

    def query(expr: str, at_ms: int) -> list[tuple[dict[str, str], float]]:
        answer = promql.instant(expr, at_ms)
        if answer.result_type == "scalar":
            return [({}, float(answer.result[1]))]
        if answer.result_type != "vector":
            raise ValueError(f"rule result is not a vector or scalar: {answer.result_type}")
        return [(sample["metric"], float(sample["value"][1])) for sample in answer.result]

    return query


def fingerprint(group: str, labels: dict[str, str]) -> str:
    text = "\0".join([group, *(f"{k}\0{v}" for k, v in sorted(labels.items()))])
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def due_steps(evaluated_ms: int | None, now_ms: int, interval_ms: int) -> list[int]:
    """The steps of the interval's grid after ``evaluated_ms`` up to now, the newest
    ``MAX_STEPS`` of them; a group never evaluated starts at the newest step."""
    newest = now_ms - now_ms % interval_ms
    first = newest if evaluated_ms is None else evaluated_ms + interval_ms
    first = max(first - first % interval_ms, newest - (MAX_STEPS - 1) * interval_ms)
    return list(range(first, newest + 1, interval_ms))


def rule_keys(group: RuleGroup) -> list[str]:
    """A key per rule that survives a reload that keeps it: its name and how many rules of
    that name come before it."""
    seen: Counter[str] = Counter()
    keys = []
    for rule in group.rules:
        name = rule.alert if isinstance(rule, AlertingRule) else rule.record
        keys.append(f"{name}#{seen[name]}")
        seen[name] += 1
    return keys


def _alert_of(data: dict[str, Any]) -> RuleAlert:
    return RuleAlert(**{**data, "value": float(data["value"])})


def _data_of(alert: RuleAlert) -> dict[str, Any]:
    return {**asdict(alert), "value": repr(alert.value)}  # NaN and infinities: text


@dataclass
class RuleHealth:
    health: str = "unknown"
    last_error: str = ""
    evaluated_ms: int | None = None
    duration_s: float = 0.0


@dataclass
class GroupState:
    """A group between runs: per rule key, its active alerts and its health."""

    alerts: dict[str, AlertingRuleState] = field(default_factory=dict)
    health: dict[str, RuleHealth] = field(default_factory=dict)

    @classmethod
    def of(cls, group: RuleGroup, data: dict[str, Any]) -> GroupState:
        state = cls()
        rules = data.get("rules", {})
        for key, rule in zip(rule_keys(group), group.rules, strict=True):
            kept = rules.get(key, {})
            state.health[key] = RuleHealth(**kept.get("health", {}))
            if isinstance(rule, AlertingRule):
                alerts = [_alert_of(a) for a in kept.get("alerts", [])]
                active = {frozenset(a.labels.items()): a for a in alerts}
                state.alerts[key] = AlertingRuleState(rule, active)
        return state

    def data(self) -> dict[str, Any]:
        rules: dict[str, Any] = {k: {"health": asdict(h)} for k, h in self.health.items()}
        for key, rule_state in self.alerts.items():
            rules[key]["alerts"] = [_data_of(a) for a in rule_state.active.values()]
        return {"rules": rules}


@dataclass
class RuleGroupRunner:
    store: RuleGroupStore
    query: Query
    recorder: Recorder
    channels: dict[str, Channel]
    rule_set: Callable[[], RuleSet]
    # A run stops starting steps after this long, so that it ends inside its function's
    # time; the steps left are due on the next run.
    budget_s: float = 25.0
    clock: Callable[[], float] = time.monotonic

    def run(self, now_ms: int) -> Outcome:
        outcome = Outcome()
        deadline = self.clock() + self.budget_s
        for name in self.store.group_names():
            if self.clock() >= deadline:
                log.warning("rule groups left for the next run", extra={"from": name})
                break
            with self.store.group_run(name) as run:
                if run is None:
                    continue
                firing, managers = self._run(run, now_ms, deadline, outcome)
            # Sent once the group's transaction is over: a slow Alertmanager holds no lock.
            self._resend(managers, firing, outcome)
        return outcome

    def _run(
        self, run: GroupRun, now_ms: int, deadline: float, outcome: Outcome
    ) -> tuple[list[RuleAlert], list[Notifier]]:
        """The group's due steps evaluated and told; what fires, and its Alertmanagers."""
        stored = run.stored
        group = stored.group
        state = GroupState.of(group, stored.state)
        interval_ms = int((group.interval or DEFAULT_INTERVAL_S) * 1000)
        keyed = list(zip(rule_keys(group), group.rules, strict=True))
        evaluated_ms = stored.evaluated_ms
        for step in due_steps(evaluated_ms, now_ms, interval_ms):
            if evaluated_ms != stored.evaluated_ms and self.clock() >= deadline:
                break
            for key, rule in keyed:
                self._evaluate(rule, key, state, step, group.limit)
            outcome.evaluated += len(group.rules)
            evaluated_ms = step
        targets = self._targets(stored.notify)
        Told(run, stored.name, tuple(n.name for n in targets), now_ms, outcome).tell(state)
        run.save(evaluated_ms, state.data())
        firing = [alert for rule_state in state.alerts.values()
                  for alert in rule_state.alerts("firing")]  # fmt: skip
        return firing, [n for n in targets if n.type == "alertmanager"]

    def _evaluate(
        self, rule: AlertingRule | RecordingRule, key: str, state: GroupState, step: int, limit: int
    ) -> None:
        health = state.health.setdefault(key, RuleHealth())
        started = time.perf_counter()
        try:
            if isinstance(rule, RecordingRule):
                self._record(rule, step, limit)
            else:
                _alerting(state.alerts[key], self.query, step, limit)
        except (PromQLError, ValueError) as error:  # a template's or a result's fault too
            health.health, health.last_error = "err", str(error)[:1000]
            log.warning("rule evaluation failed", extra={"rule": key, "error": str(error)})
        else:
            health.health, health.last_error = "ok", ""
        health.evaluated_ms, health.duration_s = step, time.perf_counter() - started

    def _record(self, rule: RecordingRule, step: int, limit: int) -> None:
        """The rule's results at ``step`` stored as series named ``record``: under their
        ``host`` (or ``instance``) label's host, as remote-written series are."""
        results = self.query(rule.expr, step)
        if limit and len(results) > limit:
            raise ValueError(f"exceeded limit of {limit} with {len(results)} series")
        by_host: dict[str, dict[int, dict[str, float]]] = {}
        seen, hostless = set(), 0
        for labels, value in results:
            pairs = {k: v for k, v in labels.items() if k != "__name__"} | dict(rule.labels)
            made = made_of((("__name__", rule.record), *pairs.items()), HOSTS)
            if isinstance(made, str):
                hostless += made == "no_host"
                continue
            if made in seen:
                raise ValueError(
                    "vector contains metrics with the same labelset after applying rule labels"
                )
            seen.add(made)
            host, series = made
            by_host.setdefault(host, {}).setdefault(step, {})[series] = value
        refused: Counter[str] = Counter()
        batches = [
            batch
            for host, times in sorted(by_host.items())
            for batch in host_batches(host, times, RECORDER, refused, rule.record.encode())
        ]
        if batches:
            self.recorder.write_batches(batches)
        if hostless:
            raise ValueError(
                f"{hostless} result(s) have no host or instance label and are not stored: keep"
                " `by (host)` in the expression or give the rule a host label"
            )

    def _resend(self, managers: list[Notifier], firing: list[RuleAlert], outcome: Outcome) -> None:
        """What fires, to the group's Alertmanagers again on every run, as Prometheus
        resends."""
        if not managers:
            return
        for alert in firing:
            span = alert_span(alert)
            body = group_body(alert.labels, alert.annotations, "reminder", span, alert.value)
            outcome.resent += send_now(self.channels, managers, body)

    def _targets(self, names: tuple[str, ...]) -> list[Notifier]:
        """The notifiers named when the file was loaded; none named: every Alertmanager, as
        Prometheus sends every alert to its Alertmanagers, else the log."""
        known = {n.name: n for n in self.rule_set().notifiers} | {"log": LOG}
        if names:
            return [known[name] for name in names if name in known]
        return [n for n in known.values() if n.type == "alertmanager"] or [LOG]


def _alerting(state: AlertingRuleState, query: Query, step: int, limit: int) -> None:
    """One evaluation; past ``limit`` alerts, none is kept and the rule fails (Prometheus')."""
    state.evaluate(query, step)
    active = len(state.alerts("pending")) + len(state.alerts("firing"))
    if limit and active > limit:
        state.active.clear()
        raise ValueError(f"exceeded limit of {limit} with {active} alerts")


def group_body(labels: dict[str, str], annotations: dict[str, str], kind: str, span: Span,
               value: float | None) -> dict[str, Any]:  # fmt: skip
    return alert_body(
        kind,  # type: ignore[arg-type]
        span,
        value,
        rule=labels["alertname"],
        host=labels.get("host", ""),
        severity=labels.get("severity", ""),
        labels=labels,
        annotations=annotations,
    )


def alert_span(alert: RuleAlert) -> Span:
    fired = alert.fired_at_ms if alert.fired_at_ms is not None else alert.active_at_ms
    return Span(alert.active_at_ms, fired, alert.resolved_at_ms)


@dataclass
class Told:
    """What changed in a group's alerts since its last run, told: the episodes that fire and
    resolve, their events and notifications; a pending alert's event."""

    run: GroupRun
    group: str
    targets: tuple[str, ...]
    now_ms: int
    outcome: Outcome

    def tell(self, state: GroupState) -> None:
        """``state``: the group's alerts now; an alert that fires and is not among them (its
        rule changed or left the group) resolves now."""
        open_alerts = self.run.open_alerts()
        current = set()
        for rule_state in state.alerts.values():
            for alert in rule_state.active.values():
                print_ = fingerprint(self.group, alert.labels)
                current.add(print_)
                found = open_alerts.get(print_)
                self._alert(alert, print_, None if found is None else found.episode.id)
        for print_, gone in open_alerts.items():
            if print_ not in current:
                episode = gone.episode
                span = Span(episode.started_ms, episode.fired_ms, self.now_ms)
                body = group_body(gone.labels, gone.annotations, "resolved", span, None)
                self._resolve(episode.id, AlertKey(body["rule"], body["host"], print_), body)

    def _alert(self, alert: RuleAlert, print_: str, episode_id: int | None) -> None:
        key = AlertKey(alert.labels["alertname"], alert.labels.get("host", ""), print_)
        severity = alert.labels.get("severity", "")
        summary = alert.annotations.get("summary", key.rule)
        if alert.state == "pending" or (alert.fired_at_ms or 0) > alert.active_at_ms:
            self.run.add_event(key, EventRecord("pending", alert.active_at_ms, alert.value,
                                                severity, summary))  # fmt: skip
        if alert.fired_at_ms is None:
            return
        if episode_id is None:
            new = NewEpisode(alert.active_at_ms, alert.fired_at_ms, alert.value, severity,
                             alert.labels, alert.annotations)  # fmt: skip
            episode_id = self.run.add_episode(key, new)
            if episode_id is None:
                return  # told before: resolved already, or fired by another run
            self.outcome.fired += 1
            self.run.add_event(key, EventRecord("firing", alert.fired_at_ms, alert.value,
                                                severity, summary))  # fmt: skip
            body = group_body(alert.labels, alert.annotations, "firing", alert_span(alert),
                              alert.value)  # fmt: skip
            self._notify(episode_id, "firing", body)
        if alert.state == "inactive" and alert.resolved_at_ms is not None:
            body = group_body(alert.labels, alert.annotations, "resolved", alert_span(alert),
                              alert.value)  # fmt: skip
            self._resolve(episode_id, key, body, alert.resolved_at_ms, alert.value)

    def _resolve(self, episode_id: int, key: AlertKey, body: dict[str, Any],
                 resolved_ms: int | None = None, value: float | None = None) -> None:  # fmt: skip
        at_ms = self.now_ms if resolved_ms is None else resolved_ms
        self.run.resolve_episode(episode_id, at_ms, value)
        self.run.add_event(key, EventRecord("resolved", at_ms, value, body["severity"],
                                            body["summary"]))  # fmt: skip
        self._notify(episode_id, "resolved", body)
        self.outcome.resolved += 1

    def _notify(self, episode_id: int, kind: str, body: dict[str, Any]) -> None:
        notification = Notification(episode_id, kind, 0, self.targets, body)  # type: ignore[arg-type]
        self.run.notify(notification, self.now_ms)
        self.outcome.notifications += len(self.targets)


def retire_groups(store: RuleGroupStore, names: list[str], now_ms: int) -> Outcome:
    """Groups taken out of the rule file: what they still fire resolves now, then they go."""
    outcome = Outcome()
    for name in names:
        with store.group_run(name) as run:
            if run is not None:
                Told(run, name, run.stored.notify, now_ms, outcome).tell(GroupState())
        store.drop_group(name)
    return outcome


def replace_rule_groups(
    store: RuleGroupStore,
    rule_file: PrometheusRuleFile,
    notify: tuple[str, ...],
    now_ms: int,
    *,
    keep_others: bool = False,
) -> list[str]:
    """A Prometheus rule file's groups replace the loaded ones (``keep_others``: only those of
    the same names), a group of the same name keeping its alerts; what the groups taken out
    still fire resolves now. Their names."""
    removed = store.replace_groups(list(rule_file.groups), notify, keep_others=keep_others)
    retire_groups(store, removed, now_ms)
    return removed
