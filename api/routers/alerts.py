"""Alerts: the rules (from the rule file and this API), what is active, and the history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Response
from typing_extensions import TypedDict

from api.answers_json import AnswerJSONResponse
from api.dependencies import Admin, AlertRules, Now, Reader
from api.params import HostRef, parse_time
from api.problems import invalid, refusals
from hostpulse.core.contract import SAFE_TEXT
from hostpulse.core.responses import ActiveAlerts, AlertHistory, AlertState, RuleList
from hostpulse.core.seed_compat import SeedAlert, seed_alert
from hostpulse.services.alerts.promql_form import with_promql
from hostpulse.services.alerts.rules import Rule
from hostpulse.services.alerts.service import AlertService
from hostpulse.services.alerts.silences import with_silences


class RuleAnswer(TypedDict):
    rule: Rule


SEED_STATES: tuple[AlertState, ...] = ("firing", "resolved")

router = APIRouter(tags=["alerts"], dependencies=[Reader], responses=refusals(401))
# Changing what alerts is an operator's act: the admin credential, not the read token.
admin_router = APIRouter(tags=["alerts"], dependencies=[Admin], responses=refusals(401, 403))


@router.get(
    "/api/v1/alert-rules",
    summary="Every rule, with where it came from (file or api) and its Prometheus form",
)
def list_rules(store: AlertRules) -> RuleList:
    return {"rules": [with_promql(entry) for entry in store.rules_with_source()]}


@admin_router.put(
    "/api/v1/alert-rules/{name}",
    summary="Create or replace a rule",
    responses={
        200: {"description": "Replaced"},
        201: {"model": RuleAnswer, "description": "Created"},
    },
)
def put_rule(
    name: str, rule: Annotated[Rule, Body()], store: AlertRules, response: Response, now: Now
) -> RuleAnswer:
    if rule.name != name:
        raise invalid("name", f"the rule's name {rule.name!r} differs from the path's {name!r}")
    rules = store.rule_set()
    known = {n.name for n in rules.notifiers} | {"log"}
    unknown = [target for target in rule.notify if target not in known]
    if unknown:
        raise invalid("notify", f"unknown notification targets {unknown}; known: {sorted(known)}")
    previous = rules.rule(name)
    store.put_rule(rule)
    if previous is not None:
        AlertService(store, {}).retire(previous, rule, now_ms(now))
    response.status_code = 200 if previous is not None else 201
    return {"rule": rule}


@admin_router.delete(
    "/api/v1/alert-rules/{name}",
    status_code=204,
    summary="Delete a rule",
    responses=refusals(404),
)
def delete_rule(name: str, store: AlertRules, now: Now) -> Response:
    previous = store.rule_set().rule(name)
    if not store.delete_rule(name):
        raise HTTPException(404, f"no rule named {name!r}")
    if previous is not None:  # its alerts resolve now, with their resolved notifications
        AlertService(store, {}).retire(previous, None, now_ms(now))
    return Response(status_code=204)


def now_ms(now: datetime) -> int:
    return int(now.timestamp() * 1000)


# Asked on every fleet page refresh, with a thousand alerts firing in a bad hour: it goes out
# as built, like the host list, declared by its type.
@router.get(
    "/api/v1/alerts",
    summary="Active alerts: firing (with the silences holding each back), then pending",
    response_class=AnswerJSONResponse,
    response_model=ActiveAlerts,
)
def active(store: AlertRules, now: Now) -> AnswerJSONResponse:
    alerts, at_ms = store.active(), now_ms(now)
    if any(alert["state"] == "firing" for alert in alerts):
        with_silences(alerts, store.live_silences(at_ms), at_ms)
    answer: ActiveAlerts = {"alerts": alerts}
    return AnswerJSONResponse(answer)


@router.get(
    "/api/v1/alerts/history",
    summary="Every transition (pending, firing, resolved)",
    responses=refusals(400),
)
def history(  # noqa: PLR0913, PLR0917 -- a route's parameters are its query
    store: AlertRules,
    now: Now,
    from_: Annotated[str, Query(alias="from")] = "-24h",
    to: str = "now",
    host: HostRef | None = None,
    rule: Annotated[str | None, Query(max_length=256, pattern=SAFE_TEXT)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    state: Annotated[list[AlertState] | None, Query(description="Only these states")] = None,
) -> AlertHistory:
    start, end = parse_time(from_, now, "from"), parse_time(to, now, "to")
    if end <= start:
        raise HTTPException(400, "'to' must be after 'from'")
    events = store.history(
        int(start.timestamp() * 1000), int(end.timestamp() * 1000), host, rule, limit,
        state or (),
    )  # fmt: skip
    return {"events": events}


@router.get("/api/alerts/recent", tags=["seed compatibility"], summary="The seed's recent alerts")
def seed_recent(store: AlertRules, now: Now) -> list[SeedAlert]:
    """The newest hundred firings and resolutions of the last day: pending is not an alert
    yet, and it must not crowd out the ones that are."""
    end = int(now.timestamp() * 1000)
    events = store.history(end - 24 * 3600 * 1000, end + 1, None, None, 100, SEED_STATES)
    return [seed_alert(event) for event in events]
