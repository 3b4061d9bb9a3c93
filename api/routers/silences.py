"""Silences: label matchers that hold alerts' notifications back for a while. Anyone who reads
lists them; an operator (or the admin token) makes and ends them, and is recorded as their
author."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Query

from api.dependencies import AlertRules, Now, Operator, Reader
from api.problems import invalid, refusals
from hostpulse.core.responses import SilenceAnswer, SilenceList
from hostpulse.services.alerts.service import AlertService
from hostpulse.services.alerts.silences import NewSilence, SilenceRequest

DAY_MS = 86_400_000
MAX_LISTED = 1000

router = APIRouter(tags=["silences"], responses=refusals(401))


def ms(now: datetime) -> int:
    return int(now.timestamp() * 1000)


@router.get(
    "/api/v1/silences",
    dependencies=[Reader],
    summary="The silences not ended, and those that ended in the last `days` days",
)
def list_silences(
    store: AlertRules, now: Now, days: Annotated[int, Query(ge=0, le=90)] = 7
) -> SilenceList:
    now_ms = ms(now)
    found = store.silences_since(now_ms - days * DAY_MS, MAX_LISTED)
    return {"silences": [s.answer(now_ms) for s in found]}


@router.post(
    "/api/v1/silences",
    status_code=201,
    summary="Silence the alerts these matchers match, for a while",
    responses=refusals(403),
)
def add_silence(
    request: Annotated[SilenceRequest, Body()], store: AlertRules, now: Now, author: Operator
) -> SilenceAnswer:
    now_ms = ms(now)
    try:
        starts_ms, ends_ms = request.span_ms(now_ms)
    except ValueError as error:
        raise invalid("ends_at", str(error)) from None
    new = NewSilence(tuple(request.matchers), starts_ms, ends_ms, request.comment, author)
    return {"silence": store.add_silence(new, now_ms).answer(now_ms)}


@router.delete(
    "/api/v1/silences/{silence_id}",
    summary="End a silence now; what it held back and still fires is told",
    responses=refusals(403, 404, 409),
)
def expire_silence(
    silence_id: Annotated[int, Path(ge=1, le=2**62)],
    store: AlertRules,
    now: Now,
    author: Operator,
) -> SilenceAnswer:
    now_ms = ms(now)
    ended = store.expire_silence(silence_id, author, now_ms)
    if ended is None:
        if store.silence(silence_id) is None:
            raise HTTPException(404, f"no silence {silence_id}")
        raise HTTPException(409, f"silence {silence_id} has ended already")
    AlertService(store, {}).silences_ended([ended], now_ms)
    return {"silence": ended.answer(now_ms)}
