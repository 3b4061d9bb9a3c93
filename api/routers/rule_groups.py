"""Prometheus rule groups: loaded as a Prometheus rule file (YAML or JSON, unchanged), listed
as Prometheus lists its rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from typing_extensions import TypedDict

from api.answers_json import AnswerJSONResponse
from api.dependencies import Admin, AlertRules, Now, Reader, RuleGroups
from api.problems import invalid, refusals
from hostpulse.services.alerts.group_listing import RuleType, rules_listing
from hostpulse.services.alerts.prometheus_rules import load_prometheus_rules
from hostpulse.services.alerts.rule_groups import replace_rule_groups
from hostpulse.services.alerts.rules import RuleFileError
from hostpulse.services.promql import wire

MAX_FILE_BYTES = 1_000_000
RULE_FILE_BODY = {
    "required": True,
    "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}},
    },
}


class LoadedGroups(TypedDict):
    groups: int
    alerting: int
    recording: int
    removed: list[str]


router = APIRouter(tags=["alerts"], dependencies=[Reader], responses=refusals(401))
admin_router = APIRouter(tags=["alerts"], dependencies=[Admin], responses=refusals(401, 403))


@router.get(
    "/prometheus/api/v1/rules",
    tags=["prometheus"],
    summary="The loaded Prometheus rule groups, as Prometheus lists its rules (Grafana reads it)",
    response_class=AnswerJSONResponse,
    response_model=wire.RulesAnswer,
)
def list_rules(
    groups: RuleGroups, type: Annotated[RuleType | None, Query()] = None
) -> AnswerJSONResponse:
    return AnswerJSONResponse(wire.success(rules_listing(groups.stored_groups(), type)))


@admin_router.put(
    "/api/v1/rule-groups",
    summary="Replace the Prometheus rule groups with a rule file's (its text, YAML or JSON)",
    responses=refusals(413),
    openapi_extra={"requestBody": RULE_FILE_BODY},
)
async def put_groups(
    request: Request,
    groups: RuleGroups,
    store: AlertRules,
    now: Now,
    notify: Annotated[list[str] | None, Query(max_length=16)] = None,
) -> LoadedGroups:
    body = await request.body()
    if len(body) > MAX_FILE_BYTES:
        raise HTTPException(413, f"a rule file of more than {MAX_FILE_BYTES} bytes")
    try:
        rule_file = load_prometheus_rules(body.decode("utf-8", "replace"), "body")
    except RuleFileError as error:
        raise invalid("body", str(error)) from None
    targets = tuple(notify or ())
    known = {n.name for n in store.rule_set().notifiers} | {"log"}
    unknown = sorted(set(targets) - known)
    if unknown:
        raise invalid("notify", f"unknown notification targets {unknown}; known: {sorted(known)}")
    removed = replace_rule_groups(groups, rule_file, targets, int(now.timestamp() * 1000))
    return {
        "groups": len(rule_file.groups),
        "alerting": len(rule_file.alerting),
        "recording": len(rule_file.recording),
        "removed": removed,
    }
