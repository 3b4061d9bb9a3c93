"""The central agent configuration (what is set per scope, its history, changes to it) and
commands to agents. Changing either takes the admin credential and records who did it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict

from api.dependencies import Administrator, AgentCommands, CentralConfigs, Reader
from api.problems import invalid, refusals
from hostpulse.core.contract import HostName
from hostpulse.services.agents.config import AgentConfigError, ConfigChange, Scope
from hostpulse.services.agents.control import Command, CommandKind, issue

router = APIRouter(tags=["agent configuration"], responses=refusals(401))
ScopePath = Annotated[
    str,
    Path(
        max_length=330,
        description="'all', 'label:KEY=VALUE' (the hosts with that label) or 'host:HOSTNAME'",
    ),
]


class ChangeAnswer(TypedDict):
    version: int
    scope: str
    settings: dict[str, Any] | None
    changed_by: str
    changed_at_ms: int


class ChangesAnswer(TypedDict):
    changes: list[ChangeAnswer]


class DesiredAnswer(TypedDict):
    config_version: int
    settings: dict[str, Any]


def answer(change: ConfigChange) -> ChangeAnswer:
    return {
        "version": change.version,
        "scope": str(change.scope),
        "settings": None if change.settings is None else dict(change.settings),
        "changed_by": change.changed_by,
        "changed_at_ms": int(change.changed_at.timestamp() * 1000),
    }


def scope_of(text: str, where: str) -> Scope:
    try:
        return Scope.parse(text)
    except AgentConfigError as error:
        raise invalid("scope", str(error), where) from None


@router.get("/api/v1/agent-config", dependencies=[Reader], summary="What is set, scope by scope")
def current(configs: CentralConfigs) -> ChangesAnswer:
    return {"changes": [answer(change) for change in configs.current()]}


@router.get(
    "/api/v1/agent-config/history",
    dependencies=[Reader],
    summary="Who changed what, newest first",
)
def history(
    configs: CentralConfigs,
    scope: Annotated[str | None, Query(max_length=330)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> ChangesAnswer:
    chosen = None if scope is None else scope_of(scope, "query")
    return {"changes": [answer(change) for change in configs.history(chosen, limit)]}


@router.get(
    "/api/v1/agent-config/desired",
    dependencies=[Reader],
    summary="The settings and version a host should run, given its labels",
)
def desired(
    configs: CentralConfigs,
    host: Annotated[HostName, Query()],
    label: Annotated[list[str], Query(max_length=32, description="KEY=VALUE")] = [],  # noqa: B006
) -> DesiredAnswer:
    labels = dict(item.partition("=")[::2] for item in label)
    wanted = configs.desired(host, labels)
    return {"config_version": wanted.version, "settings": dict(wanted.settings)}


@router.put(
    "/api/v1/agent-config/{scope}",
    summary="Set settings of a scope, checked by the agent's own rules",
    responses=refusals(401, 403),
)
def set_settings(
    scope: ScopePath,
    settings: Annotated[dict[str, Any], Body(max_length=16)],
    configs: CentralConfigs,
    who: Administrator,
) -> ChangeAnswer:
    try:
        return answer(configs.set(scope_of(scope, "path"), settings, who))
    except AgentConfigError as error:
        raise invalid("settings", str(error)) from None


@router.delete(
    "/api/v1/agent-config/{scope}",
    summary="Remove settings of a scope (every one when no key is named)",
    responses=refusals(401, 403),
)
def unset_settings(
    scope: ScopePath,
    configs: CentralConfigs,
    who: Administrator,
    key: Annotated[list[str], Query(max_length=16)] = [],  # noqa: B006
) -> ChangeAnswer:
    try:
        return answer(configs.unset(scope_of(scope, "path"), key, who))
    except AgentConfigError as error:
        raise invalid("key", str(error), "query") from None


class CommandOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: HostName
    kind: CommandKind


class CommandAnswer(TypedDict):
    id: int
    host: str
    kind: str
    issued_by: str
    issued_at_ms: int
    acked_at_ms: int | None
    result: dict[str, Any] | None


class CommandsAnswer(TypedDict):
    commands: list[CommandAnswer]


def command_answer(command: Command) -> CommandAnswer:
    return {
        "id": command.id,
        "host": command.host,
        "kind": command.kind,
        "issued_by": command.issued_by,
        "issued_at_ms": int(command.issued_at.timestamp() * 1000),
        "acked_at_ms": int(command.acked_at.timestamp() * 1000) if command.acked_at else None,
        "result": None if command.result is None else dict(command.result),
    }


@router.post(
    "/api/v1/agent-commands",
    status_code=201,
    summary="Have one host's agent collect now, pause, resume or send diagnostics",
    responses=refusals(401, 403),
)
def issue_command(order: CommandOrder, store: AgentCommands, who: Administrator) -> CommandAnswer:
    return command_answer(issue(store, order.host, order.kind, who))


@router.get(
    "/api/v1/agent-commands",
    dependencies=[Reader],
    summary="Commands issued, newest first, with what the agents answered",
)
def list_commands(
    store: AgentCommands,
    host: Annotated[HostName | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> CommandsAnswer:
    return {"commands": [command_answer(c) for c in store.recent(host, limit)]}
