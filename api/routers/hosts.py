"""Hosts: the fleet with each host's status, and one host's latest snapshot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from api.dependencies import Now, Queries
from hostpulse.query import NotFound

router = APIRouter(prefix="/api/v1/hosts", tags=["hosts"])


@router.get("", summary="Every host with its status (live, stale, down) and last seen")
def list_hosts(queries: Queries, now: Now) -> dict[str, Any]:
    return {"hosts": queries.hosts(now)}


@router.get("/{host}/latest", summary="The newest snapshot of a host with its top processes")
def latest(host: str, queries: Queries) -> dict[str, Any]:
    try:
        return queries.latest(host)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
