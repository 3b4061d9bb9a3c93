"""Dependencies the routers ask for; tests override them with in-memory services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends

from hostpulse.query import QueryService
from hostpulse.wiring import query_service


def get_query_service() -> QueryService:
    return query_service()


def get_now() -> datetime:
    return datetime.now(UTC)


Queries = Annotated[QueryService, Depends(get_query_service)]
Now = Annotated[datetime, Depends(get_now)]
