"""Series: metrics of one host over a range, from the finest tier within the point budget."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.answers_json import AnswerJSONResponse
from api.dependencies import Now, Queries, Reader
from api.params import HostRef, parse_step, parse_time
from api.problems import refusals
from hostpulse.core.responses import SeriesAnswer
from hostpulse.core.tiers import RangeQuery, TierName

router = APIRouter(
    prefix="/api/v1/series",
    tags=["series"],
    dependencies=[Reader],
    responses=refusals(400, 401, 404),
)


@router.get(
    "",
    summary="Metrics of a host over a range, on one time axis, from the right tier",
    response_class=AnswerJSONResponse,
    # Declared for the description; the answer goes out as built (see below).
    response_model=SeriesAnswer,
)
def series(  # noqa: PLR0913, PLR0917 -- a route's parameters are its query
    queries: Queries,
    now: Now,
    host: Annotated[HostRef, Query(min_length=1, max_length=253)],
    metric: Annotated[
        list[str],
        Query(
            min_length=1,
            max_length=64,
            description="repeat for several; globs expand, e.g. cpu.core:*",
            examples=[["cpu.percent", "cpu.core:*"]],
        ),
    ],
    from_: Annotated[
        str, Query(alias="from", description="start; e.g. -1h, ISO 8601, epoch")
    ] = "-1h",
    to: Annotated[str, Query(description="end; defaults to now")] = "now",
    step: Annotated[str | None, Query(description="bucket width, e.g. 60, 5m")] = None,
    tier: Annotated[TierName | None, Query(description="force a tier")] = None,
    max_points: Annotated[int | None, Query(ge=10, le=100_000)] = None,
) -> AnswerJSONResponse:
    asked = RangeQuery(
        parse_time(from_, now, "from"), parse_time(to, now, "to"), tier, parse_step(step)
    )
    answer = queries.series(host, metric, asked, now, max_points)
    # Plain numbers and strings only: straight to JSON, without FastAPI's per-value encoder
    # (tens of thousands of points made it the largest cost of a view).
    return AnswerJSONResponse(answer)
