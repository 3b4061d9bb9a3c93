"""The loaded rule groups as Prometheus' ``GET /api/v1/rules`` lists them: each rule with its
health and last evaluation, each alerting rule with its state and its active alerts. Grafana
reads this to show a Prometheus data source's alert rules."""

from __future__ import annotations

from typing import Any, Literal

from hostpulse.services.alerts.notification_body import iso
from hostpulse.services.alerts.ports import StoredGroup
from hostpulse.services.alerts.prometheus_rules import AlertingRule
from hostpulse.services.alerts.rule_evaluation import RuleAlert
from hostpulse.services.alerts.rule_groups import GroupState, rule_keys
from hostpulse.services.alerts.rule_templates import go_float

RuleType = Literal["alert", "record"]
NEVER = "0001-01-01T00:00:00Z"  # Go's zero time: what Prometheus shows before a first run


def rfc3339(ms: int | None) -> str:
    return NEVER if ms is None else str(iso(ms)).replace("+00:00", "Z")


def alert_entry(alert: RuleAlert) -> dict[str, Any]:
    entry = {
        "labels": alert.labels,
        "annotations": alert.annotations,
        "state": alert.state,
        "activeAt": rfc3339(alert.active_at_ms),
        "value": go_float(alert.value),
    }
    if alert.keep_firing_since_ms is not None:
        entry["keepFiringSince"] = rfc3339(alert.keep_firing_since_ms)
    return entry


def group_entry(stored: StoredGroup, kind: RuleType | None) -> dict[str, Any]:
    group = stored.group
    state = GroupState.of(group, stored.state)
    rules = []
    for key, rule in zip(rule_keys(group), group.rules, strict=True):
        health = state.health[key]
        common = {
            "name": rule.alert if isinstance(rule, AlertingRule) else rule.record,
            "query": rule.expr,
            "labels": rule.labels,
            "health": health.health,
            "evaluationTime": health.duration_s,
            "lastEvaluation": rfc3339(health.evaluated_ms),
        }
        if health.last_error:
            common["lastError"] = health.last_error
        if isinstance(rule, AlertingRule) and kind != "record":
            alerts = [a for a in state.alerts[key].active.values() if a.state != "inactive"]
            states = {a.state for a in alerts}
            rules.append({
                **common,
                "state": "firing" if "firing" in states else ("pending" if states else "inactive"),
                "duration": rule.for_,
                "keepFiringFor": rule.keep_firing_for,
                "annotations": rule.annotations,
                "alerts": [alert_entry(a) for a in alerts],
                "type": "alerting",
            })  # fmt: skip
        elif not isinstance(rule, AlertingRule) and kind != "alert":
            rules.append({**common, "type": "recording"})
    return {
        "name": group.name,
        "file": "hostpulse",
        "rules": rules,
        "interval": group.interval or 60.0,
        "limit": group.limit,
        "evaluationTime": sum(h.duration_s for h in state.health.values()),
        "lastEvaluation": rfc3339(stored.evaluated_ms),
    }


def rules_listing(groups: list[StoredGroup], kind: RuleType | None = None) -> dict[str, Any]:
    return {"groups": [group_entry(stored, kind) for stored in groups]}
