"""Alert rules and notification targets: the model, and loading them from YAML with the line
of every mistake in the message."""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from hostpulse.core.contract import SAFE_TEXT, VALUE_MAX

M = TypeVar("M", bound=BaseModel)

DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def seconds(value: object) -> object:
    """'10s', '1m', '4h', '1d' or a number of seconds."""
    if isinstance(value, str):
        match = DURATION.match(value.strip())
        if not match:
            raise ValueError(f"{value!r} is not a duration like 30s, 5m, 4h")
        return float(match.group(1)) * UNIT_S[match.group(2)]
    return value


# Bounds, so that no rule can crash evaluation (a `for` of 1e308 s overflows a time) or
# grow without limit: 30 days is longer than any sensible pending or repeat time.
MAX_DURATION_S = 30 * 86400
Duration = Annotated[float, BeforeValidator(seconds), Field(ge=0, le=MAX_DURATION_S)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")]
Text = Annotated[str, Field(max_length=1024, pattern=SAFE_TEXT)]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=SAFE_TEXT)]
Glob = Annotated[str, Field(min_length=1, max_length=256, pattern=SAFE_TEXT)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class HostSelector(Strict):
    names: list[Glob] = Field(
        default_factory=lambda: ["*"], max_length=100, description="host names or globs"
    )
    labels: dict[Key, Text] = Field(
        default_factory=dict, max_length=32, description="all must match"
    )

    def matches(self, host: str, labels: dict[str, str]) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.names) and all(
            labels.get(key) == value for key, value in self.labels.items()
        )


class Rule(Strict):
    name: Name
    metric: Glob | None = Field(None, description="e.g. cpu.percent, cpu.core:*, disk.percent:*")
    process: Glob | None = Field(None, description="process name glob, for process.* metrics")
    aggregate: Literal["avg", "max", "min", "sum"] = "max"
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">"
    # Finite and within what a sample can carry.
    threshold: Annotated[float, Field(ge=-VALUE_MAX, le=VALUE_MAX)] | None = None
    absent_for: Duration | None = Field(None, description="fires when a host sends nothing")
    for_: Duration = Field(0, alias="for")
    keep_firing_for: Duration = 0
    hosts: HostSelector = Field(default_factory=HostSelector)
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[Key, Text] = Field(default_factory=dict, max_length=32)
    annotations: dict[Key, Text] = Field(default_factory=dict, max_length=32)
    notify: list[Name] = Field(default_factory=lambda: ["log"], max_length=16)
    repeat_interval: Duration = Field(4 * 3600, gt=0)

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        if self.absent_for is not None:
            if self.metric is not None or self.threshold is not None:
                raise ValueError("an absent_for rule takes no metric or threshold")
        elif self.metric is None or self.threshold is None:
            raise ValueError("a rule needs a metric and a threshold (or absent_for)")
        if (self.process is not None) != bool(self.metric and self.metric.startswith("process.")):
            raise ValueError("process.* metrics need a process name glob, and only they do")
        return self

    @property
    def is_absent(self) -> bool:
        return self.absent_for is not None

    def breaches(self, value: float) -> bool:
        assert self.threshold is not None
        return COMPARISONS[self.op](value, self.threshold)


Url = Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s]+$")]


class Notifier(Strict):
    name: Name
    type: Literal["webhook", "slack", "sns", "log", "alertmanager"]
    url: str | None = None
    urls: list[Url] = Field(
        default_factory=list,
        max_length=8,
        description="alertmanager: every Alertmanager of the cluster (each gets every alert)",
    )
    dashboard_url: Url | None = Field(
        None, description="alertmanager: the dashboard, where an alert's generatorURL links"
    )
    topic_arn: str | None = None
    timeout_s: float = Field(3.0, gt=0, le=30)

    @model_validator(mode="after")
    def _target(self) -> Notifier:
        if self.type in ("webhook", "slack") and not (self.url or "").startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"a {self.type} notifier needs an http(s) url")
        if self.type == "sns" and not self.topic_arn:
            raise ValueError("an sns notifier needs a topic_arn")
        if self.type == "alertmanager" and not self.urls:
            raise ValueError("an alertmanager notifier needs urls: its Alertmanagers' addresses")
        if self.type != "alertmanager" and (self.urls or self.dashboard_url):
            raise ValueError("urls and dashboard_url are an alertmanager notifier's")
        return self


LOG = Notifier(name="log", type="log")


class RuleSet(Strict):
    notifiers: list[Notifier] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> RuleSet:
        known = {n.name for n in self.notifiers} | {"log"}
        for rule in self.rules:
            unknown = [target for target in rule.notify if target not in known]
            if unknown:
                raise ValueError(f"rule {rule.name!r} notifies unknown targets {unknown}")
        names = [rule.name for rule in self.rules]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"rule names must be unique; repeated: {twice}")
        return self

    def rule(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)


class RuleFileError(ValueError):
    """A rule file that cannot be used; the message names the line of each mistake."""


def load_rule_set(text: str, source: str = "rules") -> RuleSet:
    return validated(RuleSet, *yaml_of(text, source), source)


def yaml_of(text: str, source: str) -> tuple[Any, Any]:
    """A rule file's YAML: its node tree (for lines) and its data."""
    try:
        return yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise RuleFileError(f"{source}: {where}: not valid YAML ({error})") from None
    except RecursionError:  # the YAML reader recurses on nesting
        raise RuleFileError(f"{source}: nested too deeply to be a rule file") from None


def validated(model: type[M], root: Any, data: Any, source: str) -> M:
    """``data`` as ``model``, or a RuleFileError naming the line of every mistake."""
    try:
        return model.model_validate(data or {})
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            line = _line_of(root, problem["loc"])
            path = ".".join(str(part) for part in problem["loc"]) or "(top)"
            lines.append(f"{source}: line {line}: {path}: {problem['msg']}")
        raise RuleFileError("\n".join(lines)) from None


def _line_of(node: Any, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest node of ``loc`` that exists (pydantic adds model names)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:
                child = next((k for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            continue
        node, line = child, child.start_mark.line + 1
    return line
