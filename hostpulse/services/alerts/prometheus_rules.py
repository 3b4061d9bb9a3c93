"""Prometheus' rule-file format, unchanged: ``groups`` of alerting rules (``alert``, ``expr``,
``for``, ``keep_firing_for``, ``labels``, ``annotations``) and recording rules (``record``,
``expr``, ``labels``), each expression PromQL. Read and checked as ``promtool check rules``
checks a file, every mistake with its line."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from hostpulse.core.contract import SAFE_TEXT
from hostpulse.services.alerts.rule_templates import check
from hostpulse.services.alerts.rules import Strict, validated, yaml_of
from hostpulse.services.promql.model import PromQLError
from hostpulse.services.promql.params import duration_ms
from hostpulse.services.promql.parse import parse

METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
MAX_DURATION_MS = 366 * 86_400_000


def prometheus_duration(value: object) -> object:
    """``5m``, ``1h30m``, ``0s``: Prometheus' durations, as seconds."""
    if isinstance(value, str):
        ms = duration_ms(value)
        if ms is None:
            raise ValueError(f"not a valid duration string: {value!r}")
        if ms > MAX_DURATION_MS:
            raise ValueError(f"{value!r} is longer than a year")
        return ms / 1000
    if value is None:
        return 0.0
    raise ValueError(f"not a valid duration string: {value!r}")


# Kept as seconds; written back as Prometheus writes a duration, so a stored group reads again.
PromDuration = Annotated[
    float,
    BeforeValidator(prometheus_duration),
    PlainSerializer(lambda seconds: f"{round(seconds * 1000)}ms", return_type=str),
]
LabelName = Annotated[str, Field(pattern=LABEL_NAME, max_length=256)]
# What PostgreSQL and JSON keep: no NUL anywhere, and names and label values plain text.
Text = Annotated[str, Field(max_length=4096, pattern=SAFE_TEXT)]
Annotation = Annotated[str, Field(max_length=4096, pattern=r"^[^\u0000]*$")]
Name = Annotated[str, Field(min_length=1, max_length=256, pattern=SAFE_TEXT)]


def checked_expression(expr: str) -> str:
    if not expr.strip():
        raise ValueError("field 'expr' must be set in rule")
    try:
        parse(expr)
    except PromQLError as error:
        reason = str(error).removeprefix('invalid parameter "query": ')
        raise ValueError(f"could not parse expression: {reason}") from None
    return expr


class WithExpression(Strict):
    expr: str
    labels: dict[LabelName, Text] = Field(default_factory=dict)

    @field_validator("expr")
    @classmethod
    def _expression(cls, expr: str) -> str:
        return checked_expression(expr)


class AlertingRule(WithExpression):
    alert: Name
    for_: PromDuration = Field(0.0, alias="for")
    keep_firing_for: PromDuration = 0.0
    annotations: dict[LabelName, Annotation] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("labels", "annotations")
    @classmethod
    def _templates(cls, values: dict[str, str]) -> dict[str, str]:
        for text in values.values():
            check(text)
        return values


class RecordingRule(WithExpression):
    record: str = Field(pattern=METRIC_NAME, max_length=256)


def one_kind(rule: Any) -> Any:
    """A rule is an alerting rule or a recording rule, by the key it has."""
    if isinstance(rule, dict):
        if "alert" in rule and "record" in rule:
            raise ValueError("only one of 'record' and 'alert' must be set")
        if "alert" not in rule and "record" not in rule:
            raise ValueError("one of 'record' or 'alert' must be set")
        if "record" in rule:
            return RecordingRule.model_validate(rule)
    return AlertingRule.model_validate(rule) if isinstance(rule, dict) else rule


Rule = Annotated[AlertingRule | RecordingRule, BeforeValidator(one_kind)]


class RuleGroup(Strict):
    name: Name
    interval: PromDuration | None = None
    limit: int = Field(0, ge=0)
    rules: list[Rule] = Field(default_factory=list, max_length=1000)


class PrometheusRuleFile(Strict):
    groups: list[RuleGroup] = Field(max_length=1000)

    @model_validator(mode="after")
    def _unique(self) -> PrometheusRuleFile:
        names = [group.name for group in self.groups]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"groups named more than once: {twice}")
        return self

    @property
    def alerting(self) -> list[AlertingRule]:
        return [r for g in self.groups for r in g.rules if isinstance(r, AlertingRule)]

    @property
    def recording(self) -> list[RecordingRule]:
        return [r for g in self.groups for r in g.rules if isinstance(r, RecordingRule)]


def is_prometheus_format(text: str) -> bool:
    """Whether a rule file is Prometheus' (``groups``) rather than hostpulse's own."""
    _, data = yaml_of(text, "rules")
    return isinstance(data, dict) and "groups" in data


def load_prometheus_rules(text: str, source: str = "rules") -> PrometheusRuleFile:
    return validated(PrometheusRuleFile, *yaml_of(text, source), source)
