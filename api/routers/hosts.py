"""Hosts: the fleet with each host's status; one host's latest snapshot, hot window, processes."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from api.answers_json import AnswerJSONResponse
from api.dependencies import Fleet, Now, Operator, Queries, Reader
from api.params import HostRef, parse_time
from api.problems import refusals
from hostpulse.core.responses import (
    HostEntry,
    HostList,
    LatestAnswer,
    ProcessHistory,
    RecentAnswer,
    RetiredHost,
)

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/api/v1/hosts",
    tags=["hosts"],
    dependencies=[Reader],
    responses=refusals(400, 401, 404),
)
# Taking a host out of the fleet is an operator's act (who did it is on record).
operator_router = APIRouter(
    prefix="/api/v1/hosts", tags=["hosts"], responses=refusals(401, 403, 404)
)


# The two answers every page view asks for go out as built, like series: the declared types
# describe them (and the schema tests hold them to it) without checking each host per request.
@router.get(
    "",
    summary="Every host with its status (live, stale, down) and last seen; how many are retired",
    response_class=AnswerJSONResponse,
    response_model=HostList,
)
def list_hosts(
    queries: Queries,
    now: Now,
    retired: Annotated[bool, Query(description="the retired hosts instead of the fleet")] = False,
) -> AnswerJSONResponse:
    return AnswerJSONResponse(queries.hosts(now, retired))


@router.get(
    "/{host}",
    summary="One host as the fleet lists it (retired or not): what a host page shows of it",
    response_class=AnswerJSONResponse,
    response_model=HostEntry,
)
def one_host(host: HostRef, queries: Queries, now: Now) -> AnswerJSONResponse:
    entry = queries.host(host, now)
    if entry is None:
        raise HTTPException(404, f"no host {host!r}")
    return AnswerJSONResponse(entry)


@router.get(
    "/{host}/latest",
    summary="The newest snapshot of a host with its top processes",
    response_class=AnswerJSONResponse,
    response_model=LatestAnswer,
)
def latest(host: HostRef, queries: Queries) -> AnswerJSONResponse:
    return AnswerJSONResponse(queries.latest(host))


@router.get(
    "/{host}/recent",
    summary="Every sample of the hot window (Redis), as sent: where live views start",
)
def recent(
    host: HostRef,
    queries: Queries,
    now: Now,
    seconds: Annotated[int, Query(ge=1, le=3600, description="how far back")] = 300,
) -> RecentAnswer:
    return queries.recent(host, now, seconds)


@router.get(
    "/{host}/processes/{pid}",
    summary="One process over a range, from the samples where it was among the top processes",
)
def process_history(  # noqa: PLR0913, PLR0917 -- a route's parameters are its query
    host: HostRef,
    pid: int,
    queries: Queries,
    now: Now,
    from_: Annotated[str, Query(alias="from", description="start; e.g. -1h")] = "-1h",
    to: Annotated[str, Query(description="end; defaults to now")] = "now",
) -> ProcessHistory:
    start = parse_time(from_, now, "from")
    end = parse_time(to, now, "to")
    if end <= start:
        raise HTTPException(400, "'to' must be after 'from'")
    return queries.process_history(host, pid, start, end)


@operator_router.post(
    "/{host}/retire",
    summary="Retire a host: out of the fleet page and of HostSilent, its history kept; it comes"
    " back by itself when it sends again",
)
def retire(host: HostRef, fleet: Fleet, now: Now, who: Operator) -> RetiredHost:
    known = fleet.retire(host, who, int(now.timestamp() * 1000))
    if known is None or known.retired_ms is None:
        raise HTTPException(404, f"no host {host!r}")
    return {"host": known.host, "retired_ms": known.retired_ms, "retired_by": known.retired_by}


@operator_router.delete(
    "/{host}",
    status_code=204,
    summary="Forget a host: its samples gone from every tier and the hot tier",
)
def forget(host: HostRef, fleet: Fleet, now: Now, who: Operator) -> Response:
    if not fleet.forget(host, int(now.timestamp() * 1000)):
        raise HTTPException(404, f"no host {host!r}")
    log.info("host forgotten", extra={"host": host, "by": who})
    return Response(status_code=204)
