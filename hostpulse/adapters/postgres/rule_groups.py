"""Prometheus rule groups in PostgreSQL: the groups as loaded, each one's state between runs,
and its alerts' episodes, events and notifications beside hostpulse's own rules'."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from psycopg2.extras import Json

from hostpulse.adapters.postgres import alerts_sql as sql
from hostpulse.adapters.postgres.alerts import _episode, add_episode, add_event, notify
from hostpulse.adapters.postgres.connector import PgConnector
from hostpulse.services.alerts.ports import (
    AlertKey,
    EventRecord,
    NewEpisode,
    Notification,
    OpenAlert,
    StoredGroup,
)
from hostpulse.services.alerts.prometheus_rules import RuleGroup


def _group(row: Any) -> StoredGroup:
    name, spec, notify_to, evaluated, state = row
    return StoredGroup(
        name,
        RuleGroup.model_validate(spec),
        tuple(notify_to),
        None if evaluated is None else int(evaluated),
        state,
    )


class PgGroupRun:
    def __init__(self, cur: Any, stored: StoredGroup) -> None:
        self.cur = cur
        self._stored = stored

    @property
    def stored(self) -> StoredGroup:
        return self._stored

    def open_alerts(self) -> dict[str, OpenAlert]:
        self.cur.execute(sql.GROUP_OPEN_ALERTS, (self._stored.name,))
        return {
            row[0]: OpenAlert(_episode(row[1:7]), row[7], row[8]) for row in self.cur.fetchall()
        }

    def add_episode(self, key: AlertKey, episode: NewEpisode) -> int | None:
        return add_episode(self.cur, key, self._stored.name, episode)

    def resolve_episode(self, episode_id: int, resolved_ms: int, value: float | None) -> None:
        self.cur.execute(sql.RESOLVE_EPISODE, (resolved_ms, value, episode_id))

    def add_event(self, key: AlertKey, event: EventRecord) -> None:
        add_event(self.cur, key, event)

    def notify(self, notification: Notification, now_ms: int) -> None:
        notify(self.cur, notification, now_ms)

    def save(self, evaluated_ms: int | None, state: dict[str, Any]) -> None:
        self.cur.execute(sql.SAVE_GROUP, (evaluated_ms, Json(state), self._stored.name))


class PgRuleGroups:
    def __init__(self, connector: PgConnector) -> None:
        self.connector = connector

    def group_names(self) -> list[str]:
        with self.connector.transaction() as cur:
            cur.execute(sql.GROUP_NAMES)
            return [row[0] for row in cur.fetchall()]

    @contextlib.contextmanager
    def group_run(self, name: str) -> Iterator[PgGroupRun | None]:
        with self.connector.transaction() as cur:
            cur.execute(sql.LOCK_GROUP, (name,))
            row = cur.fetchone()
            yield None if row is None else PgGroupRun(cur, _group(row))

    def stored_groups(self) -> list[StoredGroup]:
        with self.connector.transaction() as cur:
            cur.execute(sql.GROUPS)
            return [_group(row) for row in cur.fetchall()]

    def replace_groups(
        self, groups: list[RuleGroup], notify_to: tuple[str, ...], *, keep_others: bool = False
    ) -> list[str]:
        with self.connector.transaction() as cur:
            for position, group in enumerate(groups):
                spec = Json(group.model_dump(mode="json", by_alias=True, exclude_defaults=True))
                cur.execute(sql.UPSERT_GROUP, (group.name, position, spec, Json(notify_to)))
            if keep_others:
                return []
            cur.execute(sql.EMPTY_GROUPS_EXCEPT, ([group.name for group in groups],))
            return [row[0] for row in cur.fetchall()]

    def drop_group(self, name: str) -> None:
        with self.connector.transaction() as cur:
            cur.execute(sql.DROP_GROUP, (name,))
