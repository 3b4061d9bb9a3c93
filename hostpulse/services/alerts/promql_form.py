"""hostpulse's own rules as what they are in PromQL: the expression Prometheus would evaluate
for the same rule over hostpulse's series (``hostpulse.core.prometheus_names``), so that a team
reading either format sees the same alert. A rule on what PromQL does not serve (a process's
figures, the pipeline's own) has no such form, and says why."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import yaml

from hostpulse.core.contract import CUSTOM_PREFIX
from hostpulse.core.prometheus_names import BY_METRIC, HOST_LABEL, Family, escaped
from hostpulse.core.responses import RuleEntry
from hostpulse.services.alerts.rule_templates import go_float
from hostpulse.services.alerts.rules import Rule

# What a host sends with every sample: its silence is a rule on this series.
HEARTBEAT = "hostpulse_uptime_seconds"


@dataclass(frozen=True)
class PromQLForm:
    expr: str | None
    why_not: str = ""


def glob_regex(glob: str) -> str:
    """A glob as an RE2 pattern matching the same names (anchored by PromQL itself)."""
    return fnmatch.translate(glob).removeprefix("(?s:").removesuffix(")\\Z")


def matcher(label: str, glob: str) -> str:
    if not any(c in glob for c in "*?["):
        return f'{label}="{escaped(glob)}"'
    return f'{label}=~"{escaped(glob_regex(glob))}"'


def hosts_of(rule: Rule) -> list[str]:
    """The matchers of the hosts a rule watches: its names (globs) and host labels."""
    names, found = rule.hosts.names, []
    if names != ["*"]:
        if len(names) == 1:
            found.append(matcher(HOST_LABEL, names[0]))
        else:
            pattern = "|".join(glob_regex(name) for name in names)
            found.append(f'{HOST_LABEL}=~"{escaped(pattern)}"')
    return found + [f'{k}="{escaped(v)}"' for k, v in sorted(rule.hosts.labels.items())]


def selector(rule: Rule) -> tuple[str, bool] | None:
    """The series selector of the rule's metric, and whether it may match several series per
    host (a glob over instances); None when PromQL does not serve the metric."""
    assert rule.metric is not None
    base, _, instance = rule.metric.partition(":")
    if rule.metric.startswith(CUSTOM_PREFIX):
        if any(c in rule.metric for c in "*?[:{"):
            return None
        return f"{rule.metric[len(CUSTOM_PREFIX) :]}{{{','.join(hosts_of(rule))}}}", False
    family: Family | None = BY_METRIC.get(base)
    if family is None or bool(family.instance) != bool(instance):
        return None
    labels = [f'{k}="{escaped(v)}"' for k, v in family.fixed]
    several = False
    if family.instance:
        if instance != "*":
            labels.append(matcher(family.instance, instance))
        several = any(c in instance for c in "*?[")
    labels += hosts_of(rule)
    return f"{family.name}{{{','.join(labels)}}}" if labels else family.name, several


def as_promql(rule: Rule) -> PromQLForm:
    if rule.absent_for is not None:
        hosts = ",".join(hosts_of(rule))
        seconds = go_float(rule.absent_for)
        series = f"{HEARTBEAT}{{{hosts}}}" if hosts else HEARTBEAT
        return PromQLForm(f"time() - max by ({HOST_LABEL}) (timestamp({series})) > {seconds}")
    if rule.metric is not None and rule.metric.startswith("process."):
        return PromQLForm(None, "a process's figures are not PromQL series")
    found = selector(rule)
    if found is None:
        return PromQLForm(None, f"{rule.metric!r} is not one of hostpulse's PromQL series")
    series, several = found
    if several:
        series = f"{rule.aggregate} by ({HOST_LABEL}) ({series})"
    assert rule.threshold is not None
    return PromQLForm(f"{series} {rule.op} {go_float(rule.threshold)}")


def duration(seconds: float) -> str:
    """Seconds as a Prometheus duration (whole milliseconds)."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def rule_text(rule: Rule) -> str | None:
    """The rule in Prometheus' rule-file format (one alerting rule of a group), or None."""
    form = as_promql(rule)
    if form.expr is None:
        return None
    spec: dict[str, object] = {"alert": rule.name, "expr": form.expr}
    if rule.for_:
        spec["for"] = duration(rule.for_)
    if rule.keep_firing_for:
        spec["keep_firing_for"] = duration(rule.keep_firing_for)
    spec["labels"] = {"severity": rule.severity, **rule.labels}
    return yaml.safe_dump([spec], sort_keys=False, allow_unicode=True).rstrip("\n")


def with_promql(entry: RuleEntry) -> RuleEntry:
    """A listed rule, with its Prometheus form beside it."""
    return {**entry, "promql": rule_text(Rule.model_validate(entry["rule"]))}
