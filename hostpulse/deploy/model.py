"""The stack description: the one source of truth for what gets deployed.

The local deployer reads it through this model; Terraform reads the same YAML with
``yamldecode``. Physical names are ``<stack>-<logical name>`` everywhere, so both agree.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

NAME = r"^[a-z][a-z0-9-]{0,40}$"
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)(?::([a-z0-9-]+))?\}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccessSpec(Strict):
    """What a function does with the stack's queues and buckets beyond its own triggers: its
    IAM policy grants exactly this (the queues it is triggered from are implied)."""

    send: list[str] = Field(default_factory=list)  # queues it sends to
    watch: list[str] = Field(default_factory=list)  # queues (and their DLQs) it counts
    read: list[str] = Field(default_factory=list)  # buckets it reads objects from
    write: list[str] = Field(default_factory=list)  # buckets it writes objects to
    secrets: list[str] = Field(default_factory=list)  # secrets it reads its settings from


class FunctionSpec(Strict):
    handler: str = Field(pattern=r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
    source: list[str] = Field(min_length=1)
    memory: int = Field(256, ge=128, le=10240)
    timeout: int = Field(30, ge=1, le=900)
    environment: dict[str, str] = Field(default_factory=dict)
    access: AccessSpec = Field(default_factory=AccessSpec)


class DeadLetterSpec(Strict):
    max_receive_count: int = Field(ge=1, le=1000)
    retention_seconds: int = Field(1_209_600, ge=60, le=1_209_600)


class QueueSpec(Strict):
    visibility_timeout: int = Field(30, ge=0, le=43_200)
    retention_seconds: int = Field(345_600, ge=60, le=1_209_600)
    dead_letter: DeadLetterSpec | None = None


class SubscriptionSpec(Strict):
    queue: str


class TopicSpec(Strict):
    subscriptions: list[SubscriptionSpec] = Field(default_factory=list)


class TriggerSpec(Strict):
    queue: str
    function: str
    batch_size: int = Field(10, ge=1, le=10_000)
    batching_window_seconds: int = Field(0, ge=0, le=300)
    partial_batch_response: bool = True

    @model_validator(mode="after")
    def _window_for_large_batches(self) -> TriggerSpec:
        # Lambda's own rule for standard queues: one receive returns at most 10 messages.
        if self.batch_size > 10 and self.batching_window_seconds < 1:
            raise ValueError("a batch_size over 10 needs batching_window_seconds of at least 1")
        return self


RATE = re.compile(r"^rate\((\d+) (minutes?|hours?|days?)\)$")
RATE_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleSpec(Strict):
    function: str
    expression: str = Field(pattern=r"^(rate|cron)\(.+\)$")
    input: str | None = None

    def period_seconds(self) -> int | None:
        """The period of a ``rate(...)`` expression; None for a cron expression."""
        match = RATE.match(self.expression)
        if match is None:
            return None
        return int(match.group(1)) * RATE_UNIT_SECONDS[match.group(2).rstrip("s")]


class RouteSpec(Strict):
    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH", "ANY"]
    path: str = Field(pattern=r"^/[\w{}+/.-]*$")
    function: str


class ApiSpec(Strict):
    stage: str = "local"
    # Bodies of these types reach functions base64-encoded and intact (gzip, for one).
    binary_media_types: list[str] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)


class BucketSpec(Strict):
    versioned: bool = False


class Stack(Strict):
    name: str = Field(pattern=NAME)
    runtime: str = "python3.12"
    functions: dict[str, FunctionSpec] = Field(default_factory=dict)
    queues: dict[str, QueueSpec] = Field(default_factory=dict)
    topics: dict[str, TopicSpec] = Field(default_factory=dict)
    triggers: list[TriggerSpec] = Field(default_factory=list)
    schedules: dict[str, ScheduleSpec] = Field(default_factory=dict)
    api: ApiSpec | None = None
    buckets: dict[str, BucketSpec] = Field(default_factory=dict)
    # Settings kept in the secret store rather than in a function's environment: each secret a
    # JSON object of HOSTPULSE_* names and placeholders; an empty value is left out.
    secrets: dict[str, dict[str, str]] = Field(default_factory=dict)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _references_exist(self) -> Stack:
        problems: list[str] = []

        def need(kind: str, name: str, pool: dict[str, object], where: str) -> None:
            if name not in pool:
                problems.append(f"{where} names unknown {kind} '{name}'")

        for topic, spec in self.topics.items():
            for sub in spec.subscriptions:
                need("queue", sub.queue, dict(self.queues), f"topic '{topic}'")
        for function, function_spec in self.functions.items():
            where = f"function '{function}' access"
            access = function_spec.access
            for queue in [*access.send, *access.watch]:
                need("queue", queue, dict(self.queues), where)
            for bucket in [*access.read, *access.write]:
                need("bucket", bucket, dict(self.buckets), where)
            for secret in access.secrets:
                need("secret", secret, dict(self.secrets), where)
        for trigger in self.triggers:
            need("queue", trigger.queue, dict(self.queues), "a trigger")
            need("function", trigger.function, dict(self.functions), "a trigger")
        for rule, schedule in self.schedules.items():
            need("function", schedule.function, dict(self.functions), f"schedule '{rule}'")
        for route in self.api.routes if self.api else []:
            need("function", route.function, dict(self.functions), f"route {route.path}")
        names = [*self.functions, *self.queues, *self.topics, *self.schedules, *self.buckets]
        for name in [*names, *self.secrets]:
            if not re.match(NAME, name):
                problems.append(f"name '{name}' must match {NAME}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def process_functions(self) -> list[str]:
        """The functions the process runtime runs: ingest behind the API's ingest routes (the
        query API has its own server), those fed by a queue, and the scheduled ones."""
        routed = {route.function for route in self.api.routes} if self.api else set()
        fed = {trigger.function for trigger in self.triggers}
        scheduled = {schedule.function for schedule in self.schedules.values()}
        return sorted((routed - {"api", "health"}) | fed | scheduled)

    def physical(self, logical: str) -> str:
        return f"{self.name}-{logical}"

    def dead_letter_name(self, queue: str) -> str:
        return f"{self.physical(queue)}-dlq"


class StackError(ValueError):
    """The description cannot be used; the message names the file and the mistake."""


def load_stack(path: Path) -> Stack:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise StackError(f"{path}: {error}") from error
    if not isinstance(raw, dict):
        raise StackError(f"{path}: expected a mapping at the top level")
    try:
        return Stack.model_validate({**raw, "base_dir": path.parent.resolve()})
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise StackError(f"{path}: {details}") from error
