"""Alert rules, state, firings and notifications in PostgreSQL."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

from psycopg2.extras import Json

from hostpulse.adapters.postgres import alerts_sql as sql
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.core.responses import ActiveAlert, AlertEvent, AlertState, RuleEntry
from hostpulse.services.alerts.ports import (
    AlertKey,
    Delivery,
    EventRecord,
    NewEpisode,
    Notification,
    RuleState,
    StoredEpisode,
)
from hostpulse.services.alerts.rules import Rule, RuleSet
from hostpulse.services.alerts.silences import Matcher, NewSilence, Silence
from hostpulse.services.alerts.timeline import Point

LEASE_MS = 60_000


def _episode(row: Any) -> StoredEpisode:
    return StoredEpisode(*(None if v is None else int(v) for v in row))  # type: ignore[arg-type]


def _silence(row: Any) -> Silence:
    silence_id, matchers, starts, ends, comment, author, created, expired, expired_by = row
    return Silence(
        int(silence_id), tuple(Matcher.model_validate(m) for m in matchers), int(starts),
        int(ends), comment, author, int(created), None if expired is None else int(expired),
        expired_by,
    )  # fmt: skip


class PgHostAlerts:
    def __init__(self, cur: Any, host: str) -> None:
        self.cur = cur
        self.host = host

    def watched(self) -> dict[str, int]:
        self.cur.execute(sql.WATCHED, (self.host,))
        return {rule: int(ms) for rule, ms in self.cur.fetchall() if ms is not None}

    def add_points(self, rule: str, points: list[Point]) -> None:
        self.cur.executemany(
            sql.ADD_POINT, [(rule, self.host, p.ts_ms, p.value, p.breach) for p in points]
        )

    def points(self, rule: str, since_ms: int) -> list[Point]:
        self.cur.execute(sql.POINTS, (rule, self.host, since_ms))
        return [Point(int(ts), float(v), bool(b)) for ts, v, b in self.cur.fetchall()]

    def prune(self, rule: str, before_ms: int) -> None:
        self.cur.execute(sql.PRUNE, (rule, self.host, before_ms))

    def set_state(self, rule: str, state: RuleState) -> None:
        self.cur.execute(
            sql.SET_STATE,
            (
                rule,
                self.host,
                state.state,
                state.pending_since_ms,
                state.last_breach_ms,
                state.last_value,
            ),
        )

    def forget(self, rule: str) -> None:
        self.cur.execute(sql.FORGET_STATE, (rule, self.host))
        self.cur.execute(sql.FORGET_POINTS, (rule, self.host))

    def latest_episode(self, rule: str) -> StoredEpisode | None:
        self.cur.execute(sql.LATEST_EPISODE, (rule, self.host))
        row = self.cur.fetchone()
        return None if row is None else _episode(row)

    def open_episodes(self) -> dict[str, StoredEpisode]:
        self.cur.execute(sql.OPEN_EPISODES, (self.host,))
        return {row[0]: _episode(row[1:]) for row in self.cur.fetchall()}

    def add_episode(self, rule: str, episode: NewEpisode) -> int | None:
        return add_episode(self.cur, AlertKey(rule, self.host, ""), "", episode)

    def resolve_episode(self, episode_id: int, resolved_ms: int, value: float | None) -> None:
        self.cur.execute(sql.RESOLVE_EPISODE, (resolved_ms, value, episode_id))

    def add_event(self, rule: str, event: EventRecord) -> None:
        add_event(self.cur, AlertKey(rule, self.host, ""), event)

    def notify(self, notification: Notification, now_ms: int) -> None:
        notify(self.cur, notification, now_ms)


def add_episode(cur: Any, key: AlertKey, group: str, episode: NewEpisode) -> int | None:
    e = episode
    cur.execute(
        sql.ADD_EPISODE,
        (key.rule, key.host, key.fingerprint, group, e.started_ms, e.fired_ms, e.value,
         e.severity, Json(e.labels), Json(e.annotations)),
    )  # fmt: skip
    row = cur.fetchone()
    return None if row is None else int(row[0])


def add_event(cur: Any, key: AlertKey, event: EventRecord) -> None:
    e = event
    cur.execute(
        sql.ADD_EVENT,
        (key.rule, key.host, key.fingerprint, e.state, e.ts_ms, e.value, e.severity, e.summary),
    )


def notify(cur: Any, notification: Notification, now_ms: int) -> None:
    n = notification
    for target in n.targets:
        cur.execute(
            sql.ADD_NOTIFICATION,
            (n.episode_id, n.kind, n.sequence, target, Json(n.payload), now_ms),
        )
    cur.execute(sql.MARK_NOTIFIED, (now_ms, n.kind, n.episode_id))


class PgAlertStore:
    def __init__(self, connector: PgConnector, rules_ttl_s: float = 15.0) -> None:
        self.connector = connector
        self.rules_ttl_s = rules_ttl_s
        self._rules: tuple[float, RuleSet] | None = None

    # -- rules ----------------------------------------------------------------------------

    def rule_set(self) -> RuleSet:
        now = time.monotonic()
        if self._rules is None or now - self._rules[0] > self.rules_ttl_s:
            with self.connector.reading() as cur:
                cur.execute(sql.RULES)
                rules = [row[0] for row in cur.fetchall()]
                cur.execute(sql.NOTIFIERS)
                notifiers = [row[0] for row in cur.fetchall()]
            self._rules = (now, RuleSet.model_validate({"rules": rules, "notifiers": notifiers}))
        return self._rules[1]

    def replace_file_rules(self, rule_set: RuleSet) -> None:
        """A rule file's rules and targets replace the previous file's; API rules stay."""
        with self.connector.transaction() as cur:
            for notifier in rule_set.notifiers:
                cur.execute(sql.UPSERT_NOTIFIER, (notifier.name, Json(notifier.model_dump())))
            cur.execute(sql.DELETE_NOTIFIERS_EXCEPT, ([n.name for n in rule_set.notifiers],))
            for rule in rule_set.rules:
                cur.execute(sql.UPSERT_RULE, (rule.name, Json(_spec(rule)), "file"))
            cur.execute(sql.DELETE_FILE_RULES_EXCEPT, ([r.name for r in rule_set.rules],))
        self._rules = None

    def put_rule(self, rule: Rule) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.UPSERT_RULE, (rule.name, Json(_spec(rule)), "api"))
        self._rules = None

    def delete_rule(self, name: str) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.DELETE_RULE, (name,))
            deleted = bool(cur.rowcount)
        self._rules = None
        return deleted

    def rules_with_source(self) -> list[RuleEntry]:
        with self.connector.transaction() as cur:
            cur.execute(sql.RULE_SOURCES)
            return [
                {"name": name, "source": source, "rule": spec, "updated_at": updated.isoformat()}
                for name, source, spec, updated in cur.fetchall()
            ]

    # -- evaluation -------------------------------------------------------------------------

    @contextlib.contextmanager
    def host(self, host: str) -> Iterator[PgHostAlerts]:
        with self.connector.transaction() as cur:
            cur.execute(sql.LOCK_HOST, (host,))
            yield PgHostAlerts(cur, host)

    def last_seen(self) -> dict[str, tuple[int, dict[str, str]]]:
        with self.connector.transaction() as cur:
            cur.execute(sql.LAST_SEEN)
            return {host: (int(ms), dict(labels)) for host, ms, labels in cur.fetchall()}

    def hosts_with_open_episodes(self) -> list[str]:
        with self.connector.transaction() as cur:
            cur.execute(sql.OPEN_EPISODE_HOSTS)
            return [row[0] for row in cur.fetchall()]

    # -- delivery ---------------------------------------------------------------------------

    def due_deliveries(self, now_ms: int, limit: int) -> list[Delivery]:
        with self.connector.transaction() as cur:
            cur.execute(sql.CLAIM_DUE, (now_ms + LEASE_MS, now_ms, limit))
            return [Delivery(int(i), t, p, int(a), k) for i, t, p, a, k in cur.fetchall()]

    def delivered(self, delivery_id: int, now_ms: int) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.DELIVERED, (now_ms, delivery_id))

    def failed(self, delivery_id: int, error: str, retry_at_ms: int | None) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.FAILED, (error[:500], retry_at_ms, delivery_id))

    # -- silences -------------------------------------------------------------------------

    def live_silences(self, now_ms: int) -> list[Silence]:
        return self._silences(sql.LIVE_SILENCES, (now_ms,), reading=True)

    def end_silences(self, now_ms: int) -> list[Silence]:
        return self._silences(sql.END_SILENCES, (now_ms,))

    def suppressed(self, delivery_id: int, silence_id: int, now_ms: int) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.SUPPRESSED, (now_ms, silence_id, str(silence_id), delivery_id))

    def told_before(self, delivery_id: int) -> bool:
        with self.connector.transaction() as cur:
            cur.execute(sql.TOLD_BEFORE, (delivery_id,))
            row = cur.fetchone()
        return bool(row and row[0])

    def add_silence(self, silence: NewSilence, now_ms: int) -> Silence:
        s = silence
        matchers = Json([m.model_dump() for m in s.matchers])
        params = (matchers, s.starts_ms, s.ends_ms, s.comment, s.created_by, now_ms)
        [added] = self._silences(sql.ADD_SILENCE, params)
        return added

    def silences_since(self, since_ms: int, limit: int) -> list[Silence]:
        return self._silences(sql.SILENCES_SINCE, (since_ms, limit), reading=True)

    def expire_silence(self, silence_id: int, by: str, now_ms: int) -> Silence | None:
        found = self._silences(sql.EXPIRE_SILENCE, (now_ms, by, silence_id))
        return found[0] if found else None

    def silence(self, silence_id: int) -> Silence | None:
        found = self._silences(sql.SILENCE, (silence_id,), reading=True)
        return found[0] if found else None

    def _silences(
        self, statement: str, params: tuple[Any, ...], reading: bool = False
    ) -> list[Silence]:
        with self.connector.reading() if reading else self.connector.transaction() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall()
        return [_silence(row) for row in rows]

    # -- reading --------------------------------------------------------------------------

    def active(self) -> list[ActiveAlert]:
        with self.connector.reading() as cur:
            cur.execute(sql.ACTIVE)
            firing = [firing_alert(row) for row in cur.fetchall()]
            cur.execute(sql.PENDING)
            pending: list[ActiveAlert] = [
                {"rule": rule, "host": host, "state": "pending", "active_since_ms": since,
                 "value": value}
                for rule, host, since, value in cur.fetchall()
            ]  # fmt: skip
            cur.execute(sql.GROUP_PENDING)
            pending += [
                {"rule": rule, "host": host, "state": "pending", "active_since_ms": since,
                 "value": value, "labels": labels, "annotations": notes, "rule_group": group,
                 "severity": labels.get("severity", "")}
                for rule, host, since, value, labels, notes, group in cur.fetchall()
            ]  # fmt: skip
        return firing + pending

    def history(  # noqa: PLR0913, PLR0917 -- each is a filter of the same query
        self,
        start_ms: int,
        end_ms: int,
        host: str | None,
        rule: str | None,
        limit: int,
        states: Sequence[AlertState] = (),
    ) -> list[AlertEvent]:
        wanted = list(states)  # a list: psycopg2 sends a tuple as a row, not as an array
        with self.connector.reading() as cur:
            cur.execute(
                sql.HISTORY, (start_ms, end_ms, host, host, rule, rule, wanted, wanted, limit)
            )
            return [history_event(row) for row in cur.fetchall()]


def history_event(row: Any) -> AlertEvent:
    rule, host, state, ts, value, severity, summary, fingerprint = row
    event: AlertEvent = {
        "rule": rule, "host": host, "state": state, "ts_ms": ts, "value": value,
        "severity": severity, "summary": summary,
    }  # fmt: skip
    if fingerprint:
        event["fingerprint"] = fingerprint
    return event


def firing_alert(row: Any) -> ActiveAlert:
    rule, host, severity, started, fired, value, labels, annotations, group = row
    alert: ActiveAlert = {
        "rule": rule, "host": host, "state": "firing", "severity": severity,
        "active_since_ms": started, "fired_at_ms": fired, "value": value, "labels": labels,
        "annotations": annotations,
    }  # fmt: skip
    if group:
        alert["rule_group"] = group
    return alert


def _spec(rule: Rule) -> dict[str, Any]:
    return rule.model_dump(mode="json", by_alias=True, exclude_defaults=False)
