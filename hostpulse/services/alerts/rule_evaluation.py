"""A Prometheus alerting rule evaluated as Prometheus evaluates it, one evaluation time after
another: each result of its expression is an alert (its labels the sample's, without the
metric name, with the rule's and ``alertname``); an alert pends from the first evaluation that
returns it and fires once that is ``for`` ago; one no longer returned drops if it was pending
and resolves if it was firing, after ``keep_firing_for`` counted from that first evaluation.
The PromQL engine answers the expression (``Query``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from hostpulse.services.alerts.prometheus_rules import AlertingRule
from hostpulse.services.alerts.rule_templates import expand

AlertState = Literal["pending", "firing", "inactive"]
# The instant vector of an expression at a time: each sample's labels and value.
Query = Callable[[str, int], list[tuple[dict[str, str], float]]]
# A resolved alert is kept this long, so that it is sent as resolved (Prometheus' own).
RESOLVED_RETENTION_MS = 15 * 60_000


@dataclass
class RuleAlert:
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_at_ms: int
    state: AlertState = "pending"
    fired_at_ms: int | None = None
    resolved_at_ms: int | None = None
    keep_firing_since_ms: int | None = None


class DuplicateLabels(ValueError):
    """Two results of the expression make the same alert: Prometheus fails the evaluation."""


@dataclass
class AlertingRuleState:
    rule: AlertingRule
    active: dict[frozenset[tuple[str, str]], RuleAlert] = field(default_factory=dict)

    def evaluate(self, query: Query, at_ms: int) -> None:
        found = self._results(query(self.rule.expr, at_ms))
        for key, (labels, notes, value) in found.items():
            alert = self.active.get(key)
            if alert is not None and alert.state != "inactive":
                alert.value, alert.annotations = value, notes
                alert.keep_firing_since_ms = None
                continue
            self.active[key] = RuleAlert(labels, notes, value, at_ms)
        for key, alert in list(self.active.items()):
            if key not in found and not self._still_firing(key, alert, at_ms):
                continue
            if alert.state == "pending" and at_ms - alert.active_at_ms >= self.rule.for_ * 1000:
                alert.state, alert.fired_at_ms = "firing", at_ms

    def _still_firing(self, key: frozenset[tuple[str, str]], alert: RuleAlert, at_ms: int) -> bool:
        keep = False
        if alert.state == "firing" and self.rule.keep_firing_for > 0:
            if alert.keep_firing_since_ms is None:
                alert.keep_firing_since_ms = at_ms
            keep = at_ms - alert.keep_firing_since_ms < self.rule.keep_firing_for * 1000
        resolved_long_ago = (
            alert.resolved_at_ms is not None
            and at_ms - alert.resolved_at_ms > RESOLVED_RETENTION_MS
        )
        if alert.state == "pending" or resolved_long_ago:
            del self.active[key]
        if alert.state != "inactive" and not keep:
            alert.state, alert.resolved_at_ms = "inactive", at_ms
        return keep

    def _results(
        self, vector: list[tuple[dict[str, str], float]]
    ) -> dict[frozenset[tuple[str, str]], tuple[dict[str, str], dict[str, str], float]]:
        found = {}
        for metric, value in vector:
            series = {k: v for k, v in metric.items() if k != "__name__"}
            labels = dict(series)
            for name, template in self.rule.labels.items():
                labels[name] = expand(template, series, value)
            labels = {k: v for k, v in labels.items() if v}
            labels["alertname"] = self.rule.alert
            notes = {
                name: expand(template, series, value)
                for name, template in self.rule.annotations.items()
            }
            key = frozenset(labels.items())
            if key in found:
                raise DuplicateLabels(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            found[key] = (labels, notes, value)
        return found

    def alerts(self, state: AlertState) -> list[RuleAlert]:
        return [alert for alert in self.active.values() if alert.state == state]
