"""What a rule reads from a sample, and how its messages are written."""

from __future__ import annotations

import fnmatch
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from hostpulse.core.contract import Sample, metric_matches, metric_values
from hostpulse.services.alerts.rules import Rule

AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "avg": statistics.fmean,
    "max": max,
    "min": min,
    "sum": sum,
}
PROCESS_FIELDS = {
    "process.cpu_percent": "cpu_percent",
    "process.rss_bytes": "rss_bytes",
    "process.threads": "threads",
    "process.read_bytes_per_s": "read_bytes_per_s",
    "process.write_bytes_per_s": "write_bytes_per_s",
    "process.open_files": "open_files",
}
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def rule_value(rule: Rule, sample: Sample) -> float | None:
    """The rule's value in one sample: the metric, or the aggregate of every match of a glob
    (cores, mounts, processes); None when the sample does not carry it."""
    assert rule.metric is not None
    if rule.metric.startswith("process."):
        field = PROCESS_FIELDS.get(rule.metric)
        found = [
            float(getattr(p, field))
            for p in sample.processes
            if field is not None
            and getattr(p, field) is not None
            and fnmatch.fnmatchcase(p.name, rule.process or "*")
        ]
    else:
        return value_of(rule, metric_values(sample))
    return AGGREGATES[rule.aggregate](found) if found else None


def value_of(rule: Rule, values: Iterable[tuple[str, float]]) -> float | None:
    """The rule's value among named values: the metric, or the aggregate of a glob's matches."""
    assert rule.metric is not None
    found = [v for name, v in values if metric_matches(rule.metric, name)]
    return AGGREGATES[rule.aggregate](found) if found else None


def render(template: str, context: dict[str, Any]) -> str:
    """``{{ host }}``, ``{{ value }}``, ``{{ threshold }}``, ``{{ rule }}``, ``{{ labels.x }}``."""

    def substitute(match: re.Match[str]) -> str:
        value: Any = context
        for part in match.group(1).split("."):
            if not isinstance(value, dict) or part not in value:
                return match.group(0)
            value = value[part]
        return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)

    return PLACEHOLDER.sub(substitute, template)


def describe(rule: Rule, host: str, value: float | None, state: str) -> dict[str, str]:
    """The rule's annotations for one host, with a summary when the rule has none."""
    context = {
        "host": host,
        "value": value,
        "threshold": rule.threshold,
        "rule": rule.name,
        "severity": rule.severity,
        "state": state,
        "labels": rule.labels,
    }
    annotations = {key: render(text, context) for key, text in rule.annotations.items()}
    if "summary" not in annotations:
        if rule.is_absent:
            annotations["summary"] = f"{host} sent nothing for {rule.absent_for:.0f} s"
        else:
            shown = "n/a" if value is None else render("{{ value }}", {"value": float(value)})
            annotations["summary"] = (
                f"{rule.name} on {host}: {rule.metric} {rule.op} {rule.threshold} (now {shown})"
            )
    return annotations
